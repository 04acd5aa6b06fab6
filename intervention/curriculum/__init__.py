"""Curricula: load program folders from curricula/, check them, store immutable versions."""
