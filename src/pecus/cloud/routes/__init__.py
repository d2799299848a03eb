"""HTTP routers of the cloud API; `pecus.cloud.app.create_app` mounts them."""
