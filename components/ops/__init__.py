"""The operator's command line (`python -m components <verb>`, `cli`): validate, render, synth, import-arm, bump,
admin-roles, preflight and diagnose. The top layer: it may import every other, and nothing imports it.
"""
