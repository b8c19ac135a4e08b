import json

from conftest import create_endpoint, idle, root_cookies


async def test_insert_is_delivered_signed_and_verifiable(ds, receiver):
    endpoint, secret = await create_endpoint(ds, receiver.url, event_types=["insert-rows"])
    receiver.secrets = [secret]
    response = await ds.client.post(
        "/data/species/-/insert",
        json={"row": {"name": "badger"}},
        cookies=root_cookies(ds),
    )
    assert response.status_code == 201, response.text
    await idle(ds)
    [request] = receiver.wait_for(1)
    assert request["verified"] is True
    payload = json.loads(request["body"])
    assert payload["type"] == "insert-rows"
    assert payload["actor_id"] == "root"
    assert payload["data"]["database"] == "data"
    assert payload["data"]["table"] == "species"
    assert payload["data"]["num_rows"] == 1
