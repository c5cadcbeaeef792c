"""The training framework: base datamodule and LightningModule, callbacks, results.json, the task contract
(``api.py``) and the pipeline.  Import the submodules themselves: this package's ``__init__`` stays empty, so the
light modules (``results``, ``tasks``) load without torch and Lightning."""
