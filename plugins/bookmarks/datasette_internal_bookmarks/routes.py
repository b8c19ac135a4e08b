"""The plugin's URLs and the handler of each: the route table only. Patterns end in ``\\Z``:
Datasette matches with ``re.match``, and ``$`` would also take a trailing newline."""

from . import api_bookmarks, api_links, pages, redirect

CODE = r"(?P<code>[A-Za-z0-9_-]{1,64})"
BOOKMARK = r"(?P<id>[0-9]{1,18})"

routes = [
    (rf"^/-/l/{CODE}\Z", redirect.follow),
    (rf"^/-/l/{CODE}/qr\.(?P<kind>svg|png)\Z", pages.qr_code),
    (r"^/-/l/api/links\Z", api_links.links_api),
    (rf"^/-/l/api/links/{CODE}\Z", api_links.link_api),
    (rf"^/-/l/api/links/{CODE}/delete\Z", api_links.link_delete_api),
    (r"^/-/links\Z", pages.links_page),
    (rf"^/-/links/{CODE}\Z", pages.link_page),
    (r"^/-/bookmarks\Z", pages.bookmarks_page),
    (r"^/-/bookmarks/new\Z", pages.new_bookmark_page),
    (r"^/-/bookmarks/export\.html\Z", pages.export_netscape),
    (rf"^/-/bookmarks/{BOOKMARK}/edit\Z", pages.edit_bookmark_page),
    (rf"^/-/bookmarks/{BOOKMARK}/delete\Z", pages.delete_bookmark_form),
    (r"^/-/bookmarks/scan\Z", pages.scan_form),
    (r"^/-/bookmarks/api/bookmarks\Z", api_bookmarks.bookmarks_api),
    (rf"^/-/bookmarks/api/bookmarks/{BOOKMARK}\Z", api_bookmarks.bookmark_api),
    (r"^/-/bookmarks/api/export\Z", api_bookmarks.export_api),
    (r"^/-/bookmarks/api/import\Z", api_bookmarks.import_api),
    (r"^/-/bookmarks/api/scan\Z", api_bookmarks.scan_api),
]
