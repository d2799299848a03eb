"""Wire schemas shared by the farm agent and the cloud (version 1).

The agent imports this package, so it must stay free of cloud and AI dependencies.
"""

from pecus.contract.session import (
    OPTIONAL_COLUMNS,
    REQUIRED_COLUMNS,
    SESSION_COLUMNS,
    MilkingSession,
)
from pecus.contract.sync import AgentInfo, IngestBatch, IngestResult, SyncStatus
from pecus.contract.treatment import AnimalBatch, AnimalRecord, AnimalResult, Treatment, TreatmentBatch

__all__ = [
    "OPTIONAL_COLUMNS",
    "REQUIRED_COLUMNS",
    "SESSION_COLUMNS",
    "AgentInfo",
    "AnimalBatch",
    "AnimalRecord",
    "AnimalResult",
    "IngestBatch",
    "IngestResult",
    "MilkingSession",
    "SyncStatus",
    "Treatment",
    "TreatmentBatch",
]
