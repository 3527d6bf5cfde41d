"""Adjudication's payments process (ADR 15): payment runs, EFT traces, 835-style remittances."""
