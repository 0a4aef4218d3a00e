"""The whole call in Chromium: type what the resident says, read the script, record the call
(login round trip on the way, nothing typed lost), get the reference and deadline, then the
same caller calls again and the panel shows the history and flags the repeat."""

from __future__ import annotations

import httpx
import pytest
from ruamel.yaml import YAML

from conftest import ROOT, open_script, staff_server

pytestmark = [pytest.mark.browser, pytest.mark.full_chromium]   # the contract's F2 call record

TOKEN = "front-desk-token-0001"
LOOKUP = YAML(typ="safe", pure=True).load((ROOT / "snippets/lookup.yaml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def desk_server(built_project, tmp_path_factory):
    srv = staff_server(built_project, tmp_path_factory.mktemp("call"), f"前台小王:{TOKEN}")
    yield srv
    srv.stop()


def test_type_read_record_reference_call_again_history(page, desk_server):
    url = desk_server.url
    settings = httpx.get(url + "/api/lookup", timeout=10).json()
    complaint = next(t for t in settings["record"]["types"] if t["id"] == "complaint")
    script_id = "complaint.noise"
    pre = settings["record"]["prefill"][script_id]

    # 1. the resident says it; the script opens; F2 opens the record prefilled from it
    open_script(page, url, "装修太吵了", script_id)
    page.keyboard.press("F2")
    panel = page.locator("#kb-call")
    panel.wait_for(state="visible", timeout=5000)
    assert page.locator("#kb-call [name=type]").input_value() == pre["type"]
    assert page.locator("#kb-call [name=category]").input_value() == pre["category"]
    assert complaint["response"]["text"] in page.locator("#kb-call-deadlines").inner_text()
    assert script_id in page.locator("#kb-call-script").inner_text()
    assert page.evaluate("document.activeElement.name") == "contact_phone"

    # 2. typed by keyboard; not signed in, so Enter in the last field goes to login and back
    page.keyboard.type("138 1234 5678")
    page.fill("#kb-call [name=contact_name]", "李女士")
    page.check("#kb-call [name=consent]")
    page.fill("#kb-call [name=location]", "3号楼2单元301")
    page.fill("#kb-call [name=content]", "楼上晚上十点后还在装修，电钻声很大")
    page.select_option("#kb-call [name=emotion]", "angry")
    page.fill("#kb-call [name=cause]", "装修时间管理不到位")
    page.locator("#kb-call [name=proposed]").click()
    page.keyboard.type("今晚派保安上门劝停")
    page.keyboard.press("Enter")
    page.wait_for_url("**/staff/login?next=*", timeout=10000)
    page.fill("#token", TOKEN)
    page.keyboard.press("Enter")
    page.wait_for_url("**/staff/lookup/**", timeout=10000)
    page.locator("#kb-call [name=proposed]").wait_for(state="visible", timeout=10000)
    assert page.locator("#kb-call [name=content]").input_value() == "楼上晚上十点后还在装修，电钻声很大"
    assert page.locator("#kb-call [name=proposed]").input_value() == "今晚派保安上门劝停"
    assert page.locator("#kb-call [name=category]").input_value() == pre["category"]
    assert page.locator("#kb-lookup-q").input_value() == "装修太吵了"
    page.wait_for_function("document.activeElement && document.activeElement.name === 'proposed'", timeout=5000)
    page.keyboard.press("Enter")

    # 3. the reference and the deadline, copyable; the entry carries the script id
    page.locator("#kb-call-reference").wait_for(timeout=10000)
    reference = page.locator("#kb-call-reference").inner_text()
    assert "周" in page.locator("#kb-call-due").inner_text()
    assert reference in page.locator("#kb-call-say").inner_text()
    headers = {"authorization": f"Bearer {TOKEN}"}
    listed = httpx.get(url + "/api/improvement-log", headers=headers, timeout=10).json()["entries"]
    entry = next(e for e in listed if e["reference"] == reference)
    assert entry["script_id"] == script_id and entry["category"] == pre["category"]
    full = httpx.get(f"{url}/api/improvement-log/{entry['id']}", headers=headers, timeout=10).json()
    assert full["record"]["proposed"] == "今晚派保安上门劝停" and full["events"][0]["actor"] == "前台小王"
    assert full["contact_phone"].replace(" ", "") == "13812345678"

    # 4. the same caller calls again (typing the number differently): history and repeat flag
    open_script(page, url, "装修太吵了", script_id)
    page.keyboard.press("F2")
    page.locator("#kb-call").wait_for(state="visible", timeout=5000)
    assert page.locator("#kb-call [name=content]").input_value() == ""   # a new call, a clean form
    page.keyboard.type("+86 138-1234-5678")
    page.locator("#kb-call-repeat").wait_for(timeout=10000)
    assert reference in page.locator("#kb-call-history").inner_text()
    page.locator("#kb-call-repeat-script").click()
    repeat = LOOKUP["repeat"]["script"]
    page.wait_for_function(f"document.querySelector('#kb-lookup-detail code') && "
                           f"document.querySelector('#kb-lookup-detail code').textContent === '{repeat}'", timeout=10000)
