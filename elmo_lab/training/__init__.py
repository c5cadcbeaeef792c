"""The training framework: base datamodule and LightningModule, callbacks, results.json, and the pipeline."""
from .callbacks import LayerWeightLogger, layer_weights, plot_layer_weights
from .datamodule import ElmoDataModule, EpochSeededSampler, WordVocabulary
from .module import ElmoTaskModule

__all__ = ["ElmoDataModule", "ElmoTaskModule", "EpochSeededSampler", "LayerWeightLogger", "WordVocabulary",
           "layer_weights", "plot_layer_weights"]
