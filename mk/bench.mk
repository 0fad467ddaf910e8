# Load benchmark against the real running stack (starts its own servers on free ports).
.PHONY: bench-load
bench-load: envs data train index ## 20 shoppers x 30 turns over REST, SQLite and Postgres+Redis; a hand-off row with 3 agents -> benchmarks/results/load.json
	$(ACT_PY) benchmarks/bench_load.py $(BENCH_LOAD_ARGS)
	$(RASA_PY) benchmarks/bench_handoff.py

# Multi-turn shopper conversations written apart from the training data (tests/conversations).
.PHONY: bench-conversations
bench-conversations: envs data train index ## the shopper conversation set over REST -> benchmarks/results/conversations.json
	$(ACT_PY) benchmarks/bench_conversations.py
