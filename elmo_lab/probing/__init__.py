"""What probing studies share, whatever the encoder or the labels: ``columns`` (token-per-line CoNLL-style files,
one label column), ``controls`` (the most-frequent-tag baseline and Hewitt & Liang's control tasks: word labels, arc
heads, control trees, edge label sets), ``model`` (the identity encoder that lets a probe read the encoder's vector
alone, the linear or MLP probe classifier), ``structural`` (tree distances and depths, the minimum spanning tree,
UUAS, the Spearman averages, root accuracy; numpy/scipy) with ``tree_metrics`` (the same as torchmetrics),
``treebank_data`` (the data side of the tree probes), ``spans`` (span pooling for edge probing) and ``mdl``
(block boundaries and code lengths of Voita & Titov's online code, and the per-block training loop).  The probe tasks
(``task=probe``, ``structural_*``, ``arc_head``, ``edge_*``) put them together."""
