"""Ways in that run many builds or serve them: batch, watch, cluster, web. Thin, over ``evidence_kit.api``."""
