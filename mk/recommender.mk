# The fused recommender, trained on the shop DB's interaction log (card thumbs included).
RECOMMENDER_DIR   := $(MODEL_DIR)/recommender
RECOMMENDER_MODEL := $(RECOMMENDER_DIR)/recommender.safetensors

.PHONY: train-recommender
train-recommender: data | $(ACTIONS_ENV)/.lock.sha256 ## (re)train the fused recommender on the interaction log -> models/recommender
	$(ACT_PY) -m retrieval recommender train --out $(RECOMMENDER_DIR)

index: $(RECOMMENDER_MODEL)

$(RECOMMENDER_MODEL): $(DATA_DIR)/shop.db retrieval/recommender.py retrieval/review_sentiment.py retrieval/ease.py retrieval/item_transitions.py retrieval/recent_popularity.py | $(ACTIONS_ENV)/.lock.sha256
	$(ACT_PY) -m retrieval recommender train --out $(RECOMMENDER_DIR)

.PHONY: bench-recommender
bench-recommender: envs ## MovieLens + 10k-catalog latency -> benchmarks/results/recommender.json
	$(SINGLE_THREAD) $(ACT_PY) benchmarks/bench_recommender.py $(BENCH_RECOMMENDER_ARGS)
