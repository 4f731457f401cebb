"""Early warning (issue 4): risk model, visit list, evaluation, proxy-means income model. See docs/RISK.md."""
from fangpin.risk.model import RiskModel, load
from fangpin.risk.score import CSV_HEADERS, score, write_scores_csv

__all__ = ["RiskModel", "load", "score", "write_scores_csv", "CSV_HEADERS"]
