"""The plugin's URLs and the handler of each: the route table only."""

from .api import greetings_api
from .pages import greetings_page

routes = [
    (r"^/-/hello$", greetings_page),
    (r"^/-/hello/api/greetings$", greetings_api),
]
