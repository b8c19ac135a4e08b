"""URL patterns of the plugin; handlers live in links.py and bookmarks.py."""

from . import bookmarks, links

CODE = r"(?P<code>[A-Za-z0-9_-]{1,64})"

routes = [
    (rf"^/-/l/{CODE}$", links.follow),
    (rf"^/-/l/{CODE}/qr\.svg$", links.qr_code),
    (r"^/-/l/api/links$", links.api_links),
    (rf"^/-/l/api/links/{CODE}(?:/delete)?$", links.api_link),
    (r"^/-/links$", links.links_page),
    (r"^/-/bookmarks$", bookmarks.list_page),
    (r"^/-/bookmarks/new$", bookmarks.new_page),
    (r"^/-/bookmarks/export\.html$", bookmarks.export_netscape),
    (r"^/-/bookmarks/(?P<id>[0-9]{1,18})/delete$", bookmarks.delete_form),
    (r"^/-/bookmarks/scan$", bookmarks.scan_form),
    (r"^/-/bookmarks/api/bookmarks$", bookmarks.api_bookmarks),
    (r"^/-/bookmarks/api/bookmarks/(?P<id>[0-9]{1,18})$", bookmarks.api_bookmark),
    (r"^/-/bookmarks/api/export$", bookmarks.api_export),
    (r"^/-/bookmarks/api/import$", bookmarks.api_import),
    (r"^/-/bookmarks/api/scan$", bookmarks.api_scan),
]
