"""Training: the learned reader (training/reader/) and the fallback answerer's calibration."""
