# NLU evaluation on the held-out split (tests/nlu/holdout.yml) and the NLU benchmark.
# The floor catches a broken NLU component, not a small regression: the transformer pipeline
# scores about 0.95 on the held-out split (benchmarks/results/nlu.json, row "shop"), an
# untrained or constant classifier below 0.10, and a pre-fix bug such as shuffled labels or
# no fine-tuning well under 0.80.
NLU_MIN_ACCURACY ?= 0.85

.PHONY: test-nlu
test-nlu: train ## rasa test nlu on the held-out split; fails below NLU_MIN_ACCURACY
	$(RASA) test nlu --model $(RASA_MODEL) --nlu tests/nlu/holdout.yml --out results/nlu
	$(RASA_PY) scripts/check_nlu_report.py results/nlu/intent_report.json --min-accuracy $(NLU_MIN_ACCURACY)

# Long (about an hour on two cores, BANKING77 dominates): trains both our pipeline
# (config.yml) and Rasa's default DIET pipeline through Rasa on every data set.
# BENCH_NLU_ARGS="--only shop,latency" re-runs some rows and keeps the others.
BENCH_NLU_ARGS ?=

.PHONY: bench-nlu
bench-nlu: envs ## NLU benchmark vs DIET -> benchmarks/results/nlu.json (long; runs under nice)
	nice -n 5 $(RASA_PY) benchmarks/bench_nlu.py $(BENCH_NLU_ARGS)
