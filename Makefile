# Shop Assistant. `make help` lists the targets; README.md has the two that matter.
SHELL := /bin/bash
.DEFAULT_GOAL := help

RASA_ENV    := .venv-rasa
ACTIONS_ENV := .venv-actions
RASA        := $(RASA_ENV)/bin/rasa
RASA_PY     := $(RASA_ENV)/bin/python
ACT_PY      := $(ACTIONS_ENV)/bin/python
UV          ?= $(shell command -v uv 2>/dev/null || ls $$(pyenv root 2>/dev/null)/versions/3.11*/bin/uv 2>/dev/null | head -1)

# No model or dataset is downloaded at run time.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
export ANONYMIZED_TELEMETRY := False
export RASA_TELEMETRY_ENABLED := false
export PYTHONHASHSEED := 0
# endpoints.yml reads these; bot/stack.py sets them for the servers it starts.
export ACTION_SERVER_URL ?= http://127.0.0.1:5055/webhook
export RASA_TRACKER_DB ?= data/tracker.db
# The secret the action server wants from Rasa: the one `make run` generated, for `make shell`.
export SHOP_ACTION_SECRET ?= $(shell cat data/action-secret 2>/dev/null)
export PYTHONPATH := $(CURDIR)
# Benchmarks time queries single-threaded, as the servers run (bot/stack.py sets the same).
SINGLE_THREAD := OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1

DATA_DIR    := data
MODEL_DIR   := models
RASA_MODEL  := $(MODEL_DIR)/rasa/shop.tar.gz
RASA_INPUTS := config.yml $(wildcard bot/domain/*.yml) $(shell find training_data -name '*.yml' 2>/dev/null) $(wildcard bot/components/*.py)

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | sort | awk 'BEGIN{FS=":.*## "}{printf "  \033[36m%-20s\033[0m %s\n", $$1, $$2}'

## ---- environments -------------------------------------------------------------
.PHONY: envs
envs: $(RASA_ENV)/.lock.sha256 $(ACTIONS_ENV)/.lock.sha256 ## build both Python envs from the locks (seconds when up to date)

$(RASA_ENV)/.lock.sha256: requirements/rasa.lock scripts/build_env.sh
	@bash scripts/build_env.sh $(RASA_ENV) 3.10 requirements/rasa.lock

$(ACTIONS_ENV)/.lock.sha256: requirements/actions.lock scripts/build_env.sh
	@bash scripts/build_env.sh $(ACTIONS_ENV) 3.11 requirements/actions.lock

.PHONY: lock
lock: ## re-resolve requirements/*.lock from pyproject.toml's dependency groups (needs uv)
	@test -n "$(UV)" || { echo "error: 'make lock' needs uv (pip install uv)"; exit 1; }
	$(UV) pip compile --quiet --python-version 3.10 --find-links /opt/wheels --emit-find-links \
	  --group pyproject.toml:rasa -o requirements/rasa.lock --custom-compile-command "make lock"
	$(UV) pip compile --quiet --python-version 3.11 --find-links /opt/wheels --emit-find-links \
	  --group pyproject.toml:actions -o requirements/actions.lock --custom-compile-command "make lock"

## ---- data and training ----------------------------------------------------------
.PHONY: data
data: $(DATA_DIR)/shop.db ## generate the demo shop (seeded), unless data/ holds your own shop (make shop)

# An onboarded shop (data/shop.json, written by `make shop`) is never replaced by the demo.
$(DATA_DIR)/shop.db: shop/generate.py shop/demo_catalog.yml shop/db.py | $(ACTIONS_ENV)/.lock.sha256
	@if [ -f $(DATA_DIR)/shop.json ]; then echo "data/ holds your own shop (data/shop.json): the demo shop is not generated"; touch $@; \
	else $(ACT_PY) -m shop generate --out $(DATA_DIR); fi

# Your own shop: its catalog (CSV or JSONL, MAPPING renames its columns), its documents (KB)
# and optionally a folder of its own NLU files; then the indexes, the NLU data and the models.
.PHONY: shop
shop: envs ## use your own shop: make shop CATALOG=products.csv MAPPING=mapping.json KB=docs/ [NLU=nlu/]
	@test -n "$(CATALOG)" -a -n "$(KB)" || { echo "usage: make shop CATALOG=products.csv [MAPPING=mapping.json] KB=docs/ [NLU=nlu/]" >&2; exit 2; }
	$(ACT_PY) -m shop onboard --catalog "$(CATALOG)" --kb "$(KB)" $(if $(MAPPING),--mapping "$(MAPPING)") $(if $(NLU),--nlu "$(NLU)")
	$(MAKE) index train

# NLU data made from the shop's catalog and documents (shop/nlu_data.py), beside training_data/.
NLU_BUILD := build/nlu
NLU_STAMP := $(NLU_BUILD)/.stamp
KB_DIR    ?= $(if $(wildcard $(DATA_DIR)/kb),$(DATA_DIR)/kb,shop/kb)
OWN_NLU   := $(wildcard $(DATA_DIR)/nlu)

.PHONY: nlu-data
nlu-data: $(NLU_STAMP) ## generate build/nlu (lookups and examples) from the catalog and the KB when they change

# The order-number format (shop/order_numbers.py) is a setting, not a file: this file holds the
# variables as this run sees them and changes only when they do, so a new format regenerates the
# NLU's order_id regex and retrains.
ORDER_ID_FORMAT := $(NLU_BUILD)/.order-id-format
$(shell mkdir -p $(NLU_BUILD) && { echo '$(SHOP_ORDER_ID_PREFIX) $(SHOP_ORDER_ID_DIGITS)' | cmp -s - $(ORDER_ID_FORMAT) || echo '$(SHOP_ORDER_ID_PREFIX) $(SHOP_ORDER_ID_DIGITS)' > $(ORDER_ID_FORMAT); })

$(NLU_STAMP): $(DATA_DIR)/catalog.jsonl $(shell find $(KB_DIR) -type f 2>/dev/null) $(if $(OWN_NLU),$(shell find $(OWN_NLU) -type f)) shop/nlu_data.py shop/order_numbers.py $(ORDER_ID_FORMAT) | $(ACTIONS_ENV)/.lock.sha256
	$(ACT_PY) -m shop nlu-data --catalog $(DATA_DIR)/catalog.jsonl --kb $(KB_DIR) --out $(NLU_BUILD) $(if $(OWN_NLU),--nlu $(OWN_NLU))
	@touch $@

.PHONY: train
train: $(RASA_MODEL) ## train the Rasa model if data, domain, config or components changed

$(RASA_MODEL): $(RASA_INPUTS) $(NLU_STAMP) | $(RASA_ENV)/.lock.sha256
	$(RASA) train --config config.yml --domain bot/domain --data training_data $(NLU_BUILD) \
	  --out $(MODEL_DIR)/rasa --fixed-model-name shop
	@touch $@

# Search indexes: mk/*.mk fragments add their prerequisites (knowledge base, catalog).
.PHONY: index
index: ## build what is missing or stale: KB question encoder, KB index, product index, recommender

## ---- running ----------------------------------------------------------------------
.PHONY: run
run: envs data train index web ## build what is missing, then start action server, Rasa server and web page
	$(RASA_PY) -m bot.stack

# `rasa shell` starts a Rasa server of its own, so it must not take the port of the one `make run`
# started (SHOP_RASA_PORT, 5005): it listens on SHELL_PORT, by default a free port picked now.
SHELL_PORT ?=

.PHONY: shell
shell: envs train ## chat in the terminal beside `make run` (own Rasa server on SHELL_PORT, default a free port; needs the action server: `make run` or `make actions`)
	@port=$(or $(SHELL_PORT),$$($(RASA_PY) -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')); \
	echo "rasa shell: its own Rasa server on 127.0.0.1:$$port (set SHELL_PORT to choose)"; \
	$(RASA) shell -m $(RASA_MODEL) --endpoints endpoints.yml --interface 127.0.0.1 --port $$port

.PHONY: actions
actions: envs data index ## run only the action server (on SHOP_HOST, for holders of data/action-secret)
	@test -s $(DATA_DIR)/action-secret || (umask 077 && $(ACT_PY) -c 'import secrets; print(secrets.token_urlsafe(32))' > $(DATA_DIR)/action-secret)
	SHOP_ACTION_SECRET=$$(cat $(DATA_DIR)/action-secret) $(ACT_PY) -m actions.server

## ---- quality ----------------------------------------------------------------------
# bot/ runs in the rasa env (Python 3.10): mypy checks it against that env's packages.
.PHONY: lint
lint: envs ## ruff (format and checks) over the whole tree; mypy over actions, retrieval, shop and bot
	$(ACTIONS_ENV)/bin/ruff format --check .
	$(ACTIONS_ENV)/bin/ruff check .
	$(ACTIONS_ENV)/bin/mypy actions retrieval shop
	$(ACTIONS_ENV)/bin/mypy --python-executable $(RASA_PY) --python-version 3.10 bot

.PHONY: validate
# Not --fail-on-warnings: Rasa 3.6 reports form ask-responses (utter_ask_*) and responses
# sent from actions as unused.
validate: envs $(NLU_STAMP) ## rasa data validate (training_data and the generated build/nlu)
	$(RASA) data validate --config config.yml --domain bot/domain --data training_data $(NLU_BUILD)

.PHONY: test-stories
test-stories: train ## rasa test on tests/stories with --fail-on-prediction-errors
	$(RASA) test core --model $(RASA_MODEL) --stories tests/stories --endpoints endpoints.yml \
	  --out results/stories --fail-on-prediction-errors

.PHONY: test-actions
test-actions: envs data ## pytest in the actions env: tooling, shop, actions, retrieval, e2e (e2e needs `make train index`)
	$(ACT_PY) -m pytest $(wildcard tests/tooling tests/shop tests/actions tests/retrieval tests/e2e)

.PHONY: test-bot
test-bot: envs ## pytest in the rasa env (NLU component)
	@if ls tests/bot/test_*.py >/dev/null 2>&1; then $(RASA_PY) -m pytest tests/bot; else echo 'no tests in tests/bot'; fi

.PHONY: test
test: envs data lint validate train index web test-bot test-actions test-stories test-nlu test-web ## build what is missing and run the whole suite

.PHONY: clean
clean: ## delete data/ (the shop, an onboarded one too, tracker store, logs), the Rasa model and results/ (keeps envs, indexes, other models)
	rm -rf $(DATA_DIR) $(MODEL_DIR)/rasa results

-include mk/*.mk
