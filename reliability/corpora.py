"""Attack corpora, in one place, run against every plugin by test_security_corpora.py and
test_xss_browser.py. Add a case here and every plugin is checked against it.
"""

# Each payload, if a browser ever ran it, would set window.__xss (or open a dialog). Each starts
# with a visible marker so a test can prove the text was rendered, and rendered inert.
XSS_PAYLOADS = [
    "XSS01 <script>window.__xss = 1</script>",
    'XSS02 <img src=x onerror="window.__xss = 2">',
    'XSS03 <svg onload="window.__xss = 3"></svg>',
    "XSS04 [click me](javascript:window.__xss=4)",
    'XSS05 ![pic](x" onerror="window.__xss=5)',
    'XSS06 <a href="javascript:window.__xss=6">link</a>',
    'XSS07 "><script>window.__xss = 7</script>',
    "XSS08 </textarea></title><script>window.__xss = 8</script>",
    "XSS09 </script><script>window.__xss = 9</script>",
    'XSS10 <details open ontoggle="window.__xss = 10">x</details>',
    "XSS11 [x](&#106;avascript:window.__xss=11)",
    'XSS12 <iframe srcdoc="<script>parent.__xss = 12</script>"></iframe>',
    "XSS13 <math><mtext><table><mglyph><style><img src=x onerror=window.__xss=13>",
    "XSS14 ' onmouseover='window.__xss=14' x='",
    'XSS15 <a href="data:text/html,<script>alert(15)</script>">d</a> <b onclick=alert(15)>b</b>',
    "XSS16 <style>@import 'javascript:window.__xss=16';</style>",
    "XSS17 {{ 7*7 }} {% raw %} ${7*7}",
    # No quotes at all: breaks out of an attribute only where the value is not escaped for it.
    "XSS18 x autofocus onfocus=window.__xss=18 y",
]
XSS_MARKERS = [payload.split()[0] for payload in XSS_PAYLOADS]

# Where a redirect must never go: every entry leaves the site or is not a plain local path.
OFF_SITE_TARGETS = [
    "//evil.example/",
    "///evil.example/",
    "https://evil.example/",
    "http://evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "/\t/evil.example",
    " //evil.example",
    "//evil.example@127.0.0.1/",
    "javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "https:evil.example",
    "/%2F%2Fevil.example",
    "/%5Cevil.example",
    "http://127.0.0.1.evil.example/",
    "//%65vil.example",
    "\x00//evil.example",
    "/\r\nLocation: https://evil.example",
]

# Redirect targets as a `next`-style value reads once its form encoding is undone: encoded
# slashes, backslashes, dots, DEL, C1 and CR/LF that a proxy, server or browser may decode once
# more, and raw DEL, C1, line separators and UTF-8. None may reach a Location header as it is:
# each is refused, or sent percent-encoded as a path on this site.
ENCODED_REDIRECT_TARGETS = [
    "/%2F%2Fevil.example",
    "/%2f%2fevil.example",
    "/%2F/evil.example",
    "/%2F",
    "%2F%2Fevil.example",
    "%2F",
    "/%252F%252Fevil.example",
    "/%25252F%25252Fevil.example",
    "/%5Cevil.example",
    "/%5C%5Cevil.example",
    "/%5c/evil.example",
    "/%2e%2e/%2F%2Fevil.example",
    "/.%2e/evil.example",
    "/%2E%2E%2F%2E%2E%2F%2Fevil.example",
    "/%7F",
    "/%7Fevil.example",
    "/%00",
    "/%00//evil.example",
    "/%09/evil.example",
    "/%0D%0ALocation:%20https://evil.example",
    "/%C2%85evil.example",
    "/%E2%80%A8evil.example",
    "/%EF%BC%8F%EF%BC%8Fevil.example",
    "/\x7f",
    "/\x7fevil.example",
    "/\x85evil.example",
    "/\x9b31m",
    "/\u2028evil.example",
    "/\uff0f\uff0fevil.example",
    "/é/Zoë",
    "/data/species?name=Zoë",
    "/data/species#%2F%2Fevil.example",
    "/data/species?next=//evil.example",
]

# Webhook URLs that reach the server itself, its network or the cloud metadata service.
SSRF_URLS = [
    "http://127.0.0.1/",
    "http://127.0.0.1:8001/-/internal",
    "http://localhost/",
    "http://[::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[0:0:0:0:0:ffff:7f00:1]/",
    "http://0.0.0.0/",
    "http://0/",
    "http://127.1/",
    "http://2130706433/",
    "http://0x7f000001/",
    "http://017700000001/",
    "http://169.254.169.254/latest/meta-data/",
    "http://[fd00:ec2::254]/",
    "http://10.0.0.1/",
    "http://172.16.0.1/",
    "http://192.168.1.1/",
    "http://100.64.0.1/",
    "http://[fe80::1]/",
    "http://[64:ff9b::7f00:1]/",
    "http://user:pass@127.0.0.1/",
    "file:///etc/passwd",
    "gopher://127.0.0.1:6379/_INFO",
    "ftp://127.0.0.1/",
]


def _segmented(text):
    """Digits as Unicode "segmented digits" (U+1FBF0..U+1FBF9): yarl reads them as ASCII."""
    return "".join(chr(0x1FBF0 + int(c)) if c.isdigit() else c for c in text)


def _fullwidth(text):
    return "".join(chr(0xFF10 + int(c)) if c.isdigit() else c for c in text)


# Loopback and private addresses spelled so that the URL stack (yarl, then aiohttp) turns the
# host into an IP literal only after a check of the URL string would have run: Unicode digits,
# fullwidth digits, ideographic full stops, circled numbers, integer and octal/hex forms, IPv4
# inside IPv6. Each host here (no scheme, no port) names loopback once normalized.
SSRF_LOOPBACK_HOSTS = [
    _segmented("127.0.0.1"),
    "1" + _segmented("27.0.0.1"),
    _fullwidth("127.0.0.1"),
    "127\u30020\u30020\u30021",
    "\u246b\u2466.0.0.1",
    "2130706433",
    "0177.0.0.1",
    "0x7f000001",
    "0x7f.0.0.1",
    "127.0.0.1.",
    "[::ffff:127.0.0.1]",
    "[::ffff:7f00:1]",
    "[::127.0.0.1]",
]
SSRF_SPELLED_URLS = [f"http://{host}:8001/" for host in SSRF_LOOPBACK_HOSTS] + [
    f"http://{_fullwidth('169.254.169.254')}/latest/meta-data/",
    f"http://{_segmented('10.0.0.1')}/",
    f"https://{_segmented('192.168.1.1')}/",
]
# Names with a trailing dot (resolve like the name without it, where they resolve at all).
SSRF_TRAILING_DOT_URLS = [
    "http://localhost./",
    "http://LOCALHOST./",
    "http://localhost.:8001/-/internal",
]
# Names that do not resolve: refused when saved unless an operator lists them in allow_hosts.
SSRF_UNRESOLVABLE_URLS = [
    "http://nothing-here.invalid/",
    "https://webhooks.nothing-here.invalid/hook",
    "http://xn--nxasmq6b.invalid/",
]

# Headers a browser sends with a cross-site form POST: Datasette must refuse it when a cookie
# signs the request in.
CROSS_SITE_HEADERS = [
    {"sec-fetch-site": "cross-site"},
    {"origin": "https://evil.example"},
    {"sec-fetch-site": "same-site", "origin": "https://sub.evil.example"},
]
