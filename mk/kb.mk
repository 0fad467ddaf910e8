# The knowledge-base index (Chroma + BM25) over shop/kb. Re-ingested only when a document or
# the chunking code changes; ingest itself skips unchanged files by content hash.
KB_INDEX  := $(MODEL_DIR)/kb
KB_STAMP  := $(KB_INDEX)/shop_kb.stamp
KB_INPUTS := $(shell find $(KB_DIR) -type f 2>/dev/null) retrieval/kb_documents.py retrieval/knowledge_base.py
# The KB question encoder: MiniLM fine-tuned on training_data/kb/questions.jsonl (about 80 s here).
KB_QUESTIONS := training_data/kb/questions.jsonl
# Another shop's documents have no labelled questions (or questions for fewer than half their
# sections): the encoder is then fine-tuned on the documents the questions were written for
# (shop/kb, the demo's) and serves the shop's, whose shoppers word questions as the demo's do.
# A stamp, not the encoder's file: a questions file naming neither writes no encoder (the plain
# MiniLM serves).
KB_ENCODER   := $(MODEL_DIR)/kb_encoder.stamp
KB_QUESTIONS_DIR := shop/kb

index: $(KB_STAMP)

.PHONY: train-kb-encoder
train-kb-encoder: $(KB_ENCODER) ## fine-tune the KB question encoder if its questions, documents or code changed

$(KB_ENCODER): $(KB_QUESTIONS) $(KB_INPUTS) $(shell find $(KB_QUESTIONS_DIR) -type f) retrieval/kb_encoder.py retrieval/kb_cli.py | $(ACTIONS_ENV)/.lock.sha256
	$(ACT_PY) -m retrieval train-encoder --kb $(KB_DIR) --questions $(KB_QUESTIONS) --questions-kb $(KB_QUESTIONS_DIR) --out $(MODEL_DIR)/kb_encoder --optional
	@touch $@

$(KB_STAMP): $(KB_INPUTS) $(KB_ENCODER) | $(ACTIONS_ENV)/.lock.sha256
	SHOP_KB_PATH=$(KB_INDEX) SHOP_KB_ENCODER_PATH=$(MODEL_DIR)/kb_encoder $(ACT_PY) -m retrieval ingest --kb $(KB_DIR)
	@touch $@

.PHONY: bench-retrieval
bench-retrieval: index ## KB retrieval benchmark (bm25 / dense / hybrid) -> benchmarks/results/retrieval.json
	$(SINGLE_THREAD) $(ACT_PY) benchmarks/bench_retrieval.py

# The product index over the demo catalog (or SHOP_CATALOG_PATH); incremental by product hash.
PRODUCT_INDEX := $(MODEL_DIR)/products
PRODUCT_STAMP := $(PRODUCT_INDEX)/products.stamp

index: $(PRODUCT_STAMP)

$(DATA_DIR)/catalog.jsonl: $(DATA_DIR)/shop.db

$(PRODUCT_STAMP): $(DATA_DIR)/catalog.jsonl retrieval/catalog.py retrieval/product_index.py | $(ACTIONS_ENV)/.lock.sha256
	SHOP_PRODUCT_INDEX_PATH=$(PRODUCT_INDEX) $(ACT_PY) -m retrieval catalog ingest $(DATA_DIR)/catalog.jsonl
	@touch $@

.PHONY: bench-search
bench-search: index $(RASA_MODEL) ## product search benchmark (bm25 / dense / hybrid, the action's NLU-filtered search, 10k latency) -> benchmarks/results/search.json
	$(SINGLE_THREAD) $(ACT_PY) benchmarks/bench_search.py
