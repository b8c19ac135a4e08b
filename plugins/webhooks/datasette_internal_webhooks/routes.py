"""The plugin's URLs and the handler of each: the route table only."""

from . import api, pages
from .incoming import receive

API = r"/-/webhooks/api"
ENDPOINT = API + r"/endpoints/(?P<endpoint_id>ep_[0-9a-f]+)"
INCOMING = API + r"/incoming/(?P<incoming_id>in_[0-9a-f]+)"
DELIVERY = API + r"/deliveries/(?P<delivery_id>[0-9]{1,18})"

routes = [
    (r"^/-/webhooks$", pages.index_page),
    (r"^/-/webhooks/endpoints/(?P<endpoint_id>ep_[0-9a-f]+)$", pages.endpoint_page),
    (r"^/-/webhooks/incoming/(?P<incoming_id>in_[0-9a-f]+)$", pages.incoming_page),
    (r"^/-/webhooks/in/(?P<slug>[^/]+)$", receive),
    (rf"^{API}/event-types$", api.event_types),
    (rf"^{API}/endpoints$", api.endpoint_list),
    (rf"^{ENDPOINT}$", api.endpoint_detail),
    (rf"^{ENDPOINT}/delete$", api.endpoint_delete),
    (rf"^{ENDPOINT}/rotate-secret$", api.endpoint_rotate_secret),
    (rf"^{ENDPOINT}/test$", api.endpoint_test),
    (rf"^{ENDPOINT}/deliveries$", api.endpoint_deliveries),
    (rf"^{ENDPOINT}/attempts$", api.endpoint_attempts),
    (rf"^{ENDPOINT}/redeliver-failed$", api.redeliver_failed),
    (rf"^{API}/redeliver-failed$", api.redeliver_failed),
    (rf"^{DELIVERY}$", api.delivery_detail),
    (rf"^{DELIVERY}/redeliver$", api.delivery_redeliver),
    (rf"^{API}/incoming$", api.incoming_list),
    (rf"^{INCOMING}$", api.incoming_detail),
    (rf"^{INCOMING}/delete$", api.incoming_delete),
    (rf"^{INCOMING}/rotate-secret$", api.incoming_rotate_secret),
    (rf"^{INCOMING}/received$", api.incoming_received),
]
