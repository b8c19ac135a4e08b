"""Startup's reads: every Datasette start pays them (each test of a suite with this plugin
installed makes one), so the endpoints come back from the config sync's own write."""

from conftest import create_endpoint, shutdown
from datasette_internal_db.testing import start_without_core
from datasette_internal_webhooks import store
from datasette_internal_webhooks.state import get_state


async def test_startup_reads_the_endpoints_only_in_the_config_sync(make_ds, receiver, monkeypatch):
    separate_reads = []
    list_endpoints = store.list_endpoints

    async def counted(datasette):
        separate_reads.append(datasette)
        return await list_endpoints(datasette)

    monkeypatch.setattr(store, "list_endpoints", counted)
    ds = await make_ds({"endpoints": [{"name": "ops", "url": receiver.url}]})
    assert separate_reads == []
    assert [e["config_key"] for e in get_state(ds).active_endpoints] == ["ops"]
    added, _ = await create_endpoint(ds, receiver.url + "?added")
    await shutdown(ds)

    # Restarted without the declared endpoint: it is removed, the one added at runtime stays.
    ds = await make_ds({"endpoints": []})
    assert [e["id"] for e in get_state(ds).active_endpoints] == [added["id"]]
    assert separate_reads.count(ds) == 0
    await shutdown(ds)


def test_loaded_without_core_it_stops_at_startup_naming_core(tmp_path):
    code, errors = start_without_core("datasette-internal-webhooks", tmp_path)
    assert code == 1
    assert "datasette-internal-webhooks keeps its state in the internal database" in errors
