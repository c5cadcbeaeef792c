"""Training a biLM as a language model: pretraining (``pretrain.py``), fine-tuning on task text, perplexity.

* ``vocab`` — the softmax vocabulary (``vocab.txt``); ``corpora`` — PTB, IMDB, text files;
  ``batching`` — packed whole-sentence rows and LM targets; ``softmax`` — full and sampled softmax;
  ``module`` / ``datamodule`` — the Lightning module and data module; ``pretraining`` — what ``pretrain.py`` runs;
  ``export`` — official files + softmax side file; ``perplexity`` — evaluation and the CLI command;
  ``finetune`` — ``finetune_bilm`` for task runs (``bilm.finetune.enabled=true``).
"""
