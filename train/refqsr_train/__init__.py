"""Reference trainer for RefQSR.Engine (PyTorch + numpy + pillow only)."""
