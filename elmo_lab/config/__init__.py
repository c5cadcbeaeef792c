"""The typed configuration schemas (Hydra structured configs).  Light on purpose: importing them pulls in neither
torch nor Lightning, so a config error is reported before anything heavy loads."""
