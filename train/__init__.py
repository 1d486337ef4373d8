"""Command-line entry points: ``python -m train.pretrain``, ``train.probe``, ``train.segment``, ..."""
