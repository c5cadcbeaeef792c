"""What probing studies share, whatever the encoder or the labels: ``columns`` (token-per-line CoNLL-style files,
one label column), ``controls`` (the most-frequent-tag baseline and Hewitt & Liang's control task) and ``model`` (the
identity encoder that lets a probe read the encoder's vector alone, and the linear or MLP probe classifier).
The probe task (``task=probe``) puts them together."""
