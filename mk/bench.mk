# Load benchmark against the real running stack (starts its own servers on free ports).
.PHONY: bench-load
bench-load: envs data train index ## 20 shoppers x 30 turns over REST, SQLite and Postgres+Redis; a hand-off row with 3 agents -> benchmarks/results/load.json
	$(ACT_PY) benchmarks/bench_load.py $(BENCH_LOAD_ARGS)
	$(RASA_PY) benchmarks/bench_handoff.py

# Multi-turn shopper conversations written apart from the training data (tests/conversations).
.PHONY: bench-conversations
bench-conversations: envs data train index ## the shopper conversation set over REST -> benchmarks/results/conversations.json
	$(ACT_PY) benchmarks/bench_conversations.py

# Policy questions in shoppers' words, written from the documents alone (issue #21).
# A shop nobody tuned on (MovieLens movies, onboarded with make shop in a copy), through the bot.
.PHONY: bench-own-shop
bench-own-shop: envs ## MovieLens as a shop's own catalog via make shop, its shoppers' queries over REST -> benchmarks/results/own_shop.json
	$(ACT_PY) benchmarks/bench_own_shop.py $(BENCH_OWN_SHOP_ARGS)

# Another shop's export, documents and order numbers (a folder: shop.yml, queries.yml), set up
# with make shop in a copy; its product queries and policy questions over REST.
SHOP_FOLDER ?= benchmarks/data/craft_shop
.PHONY: bench-shop-folder
bench-shop-folder: envs ## a shop folder via make shop, its product queries and policy questions over REST -> benchmarks/results/shop_folder_<name>.json
	$(ACT_PY) benchmarks/bench_shop_folder.py $(SHOP_FOLDER)

.PHONY: bench-policy
bench-policy: envs data train index ## policy questions and Bitext questions/requests over REST, the KB's own top passage as the peer -> benchmarks/results/policy_questions.json
	$(ACT_PY) benchmarks/bench_policy_questions.py $(BENCH_POLICY_ARGS)

.PHONY: bench-kb-transfer
bench-kb-transfer: index ## the KB encoder on the blind shops' documents, the plain MiniLM as the peer -> benchmarks/results/kb_transfer.json
	$(SINGLE_THREAD) $(ACT_PY) benchmarks/bench_kb_transfer.py
