"""The reader's training pipeline: data, negatives, paraphrases, training, export, calibration fit."""
