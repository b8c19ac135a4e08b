"""URL patterns of the plugin; handlers live in links.py and bookmarks.py."""

from . import bookmarks, links

CODE = r"(?P<code>[A-Za-z0-9_-]{1,64})"

routes = [
    (rf"^/-/l/{CODE}\Z", links.follow),
    (rf"^/-/l/{CODE}/qr\.svg\Z", links.qr_code),
    (r"^/-/l/api/links\Z", links.api_links),
    (rf"^/-/l/api/links/{CODE}(?:/delete)?\Z", links.api_link),
    (r"^/-/links\Z", links.links_page),
    (r"^/-/bookmarks\Z", bookmarks.list_page),
    (r"^/-/bookmarks/new\Z", bookmarks.new_page),
    (r"^/-/bookmarks/export\.html\Z", bookmarks.export_netscape),
    (r"^/-/bookmarks/(?P<id>[0-9]{1,18})/delete\Z", bookmarks.delete_form),
    (r"^/-/bookmarks/scan\Z", bookmarks.scan_form),
    (r"^/-/bookmarks/api/bookmarks\Z", bookmarks.api_bookmarks),
    (r"^/-/bookmarks/api/bookmarks/(?P<id>[0-9]{1,18})\Z", bookmarks.api_bookmark),
    (r"^/-/bookmarks/api/export\Z", bookmarks.api_export),
    (r"^/-/bookmarks/api/import\Z", bookmarks.api_import),
    (r"^/-/bookmarks/api/scan\Z", bookmarks.api_scan),
]
