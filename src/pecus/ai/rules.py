"""The rule baseline: alarms of the kind milking robots raise today, for comparison.

Two published thresholds, each normalised so that 1.0 is its alarm level:
  * inter-quarter conductivity: a quarter / the mean of the cow's two lowest quarters; Lely
    flags a quarter +20 % over the lowest (the issue's facts);
  * DeLaval's MDi (mastitis detection index), alarm from 1.4.
The rule's score is the larger of the two (whichever is present). At 1.0 it is the robots'
default list; `pecus model evaluate` also reports it at the threshold that gives the same
specificity as the model, the fair comparison.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

IQR_ALARM = 1.20
MDI_ALARM = 1.4
DEFAULT_THRESHOLD = 1.0


def rule_score(features: pd.DataFrame) -> np.ndarray:
    iqr = features["iqr_max"].to_numpy(dtype=float) / IQR_ALARM
    mdi = features["mdi"].to_numpy(dtype=float) / MDI_ALARM
    return np.fmax(iqr, mdi)
