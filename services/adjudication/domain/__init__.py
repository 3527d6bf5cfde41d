"""Adjudication domain: coverage, reference data, pricing, benefits, the ledger and the engine. No I/O.

The arithmetic is stated once in docs/adjudication-rules.md; engine.decide follows it.
"""
