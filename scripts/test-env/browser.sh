# The browser of the end-to-end sign-in suite (test/conformance/oidc-browser.e2e.test.ts):
# Debian's chromium, driven by playwright-core. Never a browser download (`npx playwright
# install` fetches builds from outside the npm registry); sourced by scripts/test-env.sh.
ensure_browser() {
  ensure_debian_packages chromium
  [ -x /usr/bin/chromium ] || die "chromium is installed but /usr/bin/chromium is missing"
  env_set OCTW_CHROMIUM /usr/bin/chromium
}
