# The shop page and its chat widget (bot/web). Front-end packages come from the npm registry
# through bot/web/package-lock.json; the browser tests drive Debian's chromium (no downloads).
WEB_VENDOR := bot/web/node_modules/socket.io-client/dist/socket.io.min.js

.PHONY: web
web: $(WEB_VENDOR) ## install the widget's front-end packages from the lock (npm ci)

$(WEB_VENDOR): bot/web/package-lock.json
	cd bot/web && npm ci --no-audit --no-fund
	@touch $@

.PHONY: browser
browser: ## install Debian's chromium for the browser tests when it is missing
	@if [ -x /usr/bin/chromium ]; then echo "chromium: /usr/bin/chromium"; \
	elif [ "$$(id -u)" = 0 ]; then apt-get install -y chromium || (apt-get update && apt-get install -y chromium); \
	else echo "the browser tests need Debian's chromium: run 'sudo apt-get install -y chromium'" >&2; exit 1; fi

.PHONY: test-web
test-web: envs data train index web browser ## browser tests of the shop page and widget (headless chromium)
	$(ACT_PY) -m pytest tests/web
