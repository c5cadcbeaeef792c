"""Reusable task layers a user can import without a task: encoders and pooling, the character CNN, the CRF, BiDAF's
attention and span predictor, the BCN encoder."""
