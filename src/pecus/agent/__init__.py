"""The farm agent: reads new milkings from the local DelPro database and uploads them to the cloud.

It ships alone as a small single-file executable, so it never imports `pecus.cloud` or `pecus.ai`."""
