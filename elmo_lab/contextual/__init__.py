"""Contextual encoders: the thing that turns token sequences into ``L + 1`` layers per token.

``base.ContextualEncoder`` is the contract every encoder kind fulfils (its layers, their number and width, the batch
input it needs, its cache identity, whether it carries state, its prepare step); ``elmo_lab.config.encoder_kinds``
maps ``bilm.kind`` to an implementation (light: composing a config imports no torch); ``lstm`` is the
character-CNN LSTM biLM of ELMo.
"""
