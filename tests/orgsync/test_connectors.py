"""The DingTalk, Feishu and WeCom org connectors against their simulators: paging, token
expiry mid-sync, error envelopes, bounded rate-limit retries, leavers, movers and people who
only left the app's permission scope."""

from __future__ import annotations

import datetime as dt

import pytest

from sync.errors import SourceError
from sync.org import OrgContext, fetch_org
from sync.simulators.org_data import SimDepartment, SimPerson, demo_changes, userid_of
from sync.simulators.platform import SimAnswer
from tests.orgsync.conftest import org_source

NOW = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
EXPECTED = {userid_of(e) for e in ("M1005", "M1006", "M1008")}


def _by_no(snap):
    return {p.employee_no: p for p in snap.people.values()}


def test_whole_organisation_with_reporting_lines(platform):
    snap = fetch_org(org_source(platform), OrgContext(now=NOW))
    people = _by_no(snap)
    assert len(people) == 10 and not snap.scope_gaps and not snap.departed
    zhao = people["M1004"]
    assert (snap.department_name(zhao.department_id), zhao.position, zhao.name) == \
        ("一车间", "副主任", "赵敏")
    assert snap.people[zhao.manager_user_id].employee_no == "M1001"  # 张伟
    assert people["G0001"].manager_user_id == ""


def test_paging_across_several_pages(platform):
    # 一车间 gets 7 more people: with 2 per page that is 5 pages of one department
    for n in range(7):
        platform.org.people.append(SimPerson(f"x{n}", f"员工{n}", f"X{n}", [10], "班组长",
                                             userid_of("M1001")))
    snap = fetch_org(org_source(platform), OrgContext(now=NOW))
    assert {f"X{n}" for n in range(7)} <= set(_by_no(snap))
    if platform.platform == "dingtalk":
        # 9 people in 一车间 make 5 pages; one page for each of the 7 other departments
        assert platform.count("user/list") == 5 + 7
    elif platform.platform == "feishu":
        assert platform.count("page_token=") >= 4


def test_dingtalk_walks_listsub_recursively(dingtalk):
    dingtalk.org.departments += [SimDepartment(30, "一车间甲班", 10),
                                 SimDepartment(31, "甲班一组", 30)]
    dingtalk.org.people.append(SimPerson("deep", "深层", "D0001", [31], "组长",
                                         userid_of("M1001")))
    snap = fetch_org(org_source(dingtalk), OrgContext(now=NOW))
    assert snap.departments["31"].parent_id == "30"
    assert snap.departments["30"].parent_id == "10"
    assert snap.department_name(_by_no(snap)["D0001"].department_id) == "甲班一组"
    assert dingtalk.count("department/listsub") == 10  # root + 7 + 2 nested


def test_feishu_department_too_big_to_recurse_is_walked_level_by_level(feishu):
    feishu.org.departments.append(SimDepartment(30, "一车间甲班", 10))
    feishu.forbid_recursion.add(1)
    snap = fetch_org(org_source(feishu), OrgContext(now=NOW))
    assert snap.departments["30"].parent_id == "10"
    assert feishu.count("fetch_child=false") >= 8


def test_token_expires_mid_sync_and_is_fetched_again(platform):
    platform.expire_tokens_after(3)
    snap = fetch_org(org_source(platform), OrgContext(now=NOW))
    assert len(snap.people) == 10
    token_path = {"dingtalk": "oauth2/accessToken", "feishu": "tenant_access_token",
                  "wecom": "gettoken"}[platform.platform]
    assert platform.count(token_path) == 2


def test_a_token_refused_again_after_renewal_stops_the_sync(platform):
    refusal = {"dingtalk": SimAnswer(200, {"errcode": 40014, "errmsg": "不合法的access_token"}),
               "feishu": SimAnswer(400, {"code": 99991663, "msg": "Invalid access token"}),
               "wecom": SimAnswer(200, {"errcode": 40014, "errmsg": "invalid access_token"})}
    listing = {"dingtalk": "/oapi/topapi/v2/user/list", "feishu":
               "/open-apis/contact/v3/users/find_by_department", "wecom": "/cgi-bin/user/list"}
    platform.fail(listing[platform.platform], refusal[platform.platform], times=None)
    with pytest.raises(SourceError) as err:
        fetch_org(org_source(platform), OrgContext(now=NOW))
    assert "40014" in str(err.value) or "99991663" in str(err.value)
    assert platform.count(listing[platform.platform]) == 2  # once, and once with a new token


@pytest.mark.parametrize("times", [1, 3])
def test_rate_limits_are_retried_a_bounded_number_of_times(platform, times):
    listing = {"dingtalk": "/oapi/topapi/v2/user/list", "feishu":
               "/open-apis/contact/v3/users/find_by_department", "wecom": "/cgi-bin/user/list"}
    path = listing[platform.platform]
    clean = fetch_org(org_source(platform), OrgContext(now=NOW))
    before = platform.count(path)
    platform.throttle(path, times=times)
    snap = fetch_org(org_source(platform, retries=3), OrgContext(now=NOW))
    assert _by_no(snap).keys() == _by_no(clean).keys()
    assert platform.count(path) - before == before + times


def test_rate_limit_beyond_the_retries_fails_with_the_platform_code(platform):
    listing = {"dingtalk": ("/oapi/topapi/v2/user/list", "90018"),
               "feishu": ("/open-apis/contact/v3/users/find_by_department", "99991400"),
               "wecom": ("/cgi-bin/user/list", "45009")}
    path, code = listing[platform.platform]
    platform.throttle(path, times=None)
    with pytest.raises(SourceError) as err:
        fetch_org(org_source(platform, retries=2), OrgContext(now=NOW))
    assert code in str(err.value) and "after 2 retries" in str(err.value)
    assert platform.count(path) == 3


def test_dingtalk_new_style_throttle_and_ip_ban_are_retried(dingtalk):
    demo_changes(dingtalk.org)
    dingtalk.throttle("/api/v1.0/contact/empLeaveRecords", times=2)  # HTTP 403 QpsLimit...
    dingtalk.ip_ban("/oapi/topapi/v2/department/listsub", times=1)
    snap = fetch_org(org_source(dingtalk), OrgContext(expected=EXPECTED, now=NOW))
    assert set(snap.departed) == {userid_of("M1006")}
    assert dingtalk.count("empLeaveRecords") == 3
    assert dingtalk.count("empLeaveRecords") and "-> 403" in " ".join(dingtalk.requests)


def test_error_envelopes_name_the_platform_code(dingtalk, feishu, wecom):
    dingtalk.fail("/oapi/topapi/v2/department/listsub",
                  SimAnswer(200, {"errcode": 60020, "errmsg": "访问ip不在白名单之中"}))
    with pytest.raises(SourceError, match="errcode 60020"):
        fetch_org(org_source(dingtalk), OrgContext(now=NOW))
    with pytest.raises(SourceError, match="invalidClientIdOrSecret"):
        fetch_org(org_source(dingtalk, appsecret="wrong"), OrgContext(now=NOW))
    demo_changes(dingtalk.org)
    dingtalk.fail("/api/v1.0/contact/empLeaveRecords",
                  SimAnswer(400, {"code": "InvalidParameter", "message": "startTime"}))
    with pytest.raises(SourceError, match="HTTP 400 InvalidParameter"):
        fetch_org(org_source(dingtalk), OrgContext(expected=EXPECTED, now=NOW))
    feishu.fail("/open-apis/contact/v3/departments",
                SimAnswer(400, {"code": 99991401, "msg": "IP denied by app setting"}))
    with pytest.raises(SourceError, match="code 99991401"):
        fetch_org(org_source(feishu), OrgContext(now=NOW))
    with pytest.raises(SourceError, match="code 10014"):
        fetch_org(org_source(feishu, app_secret="wrong"), OrgContext(now=NOW))
    with pytest.raises(SourceError, match="errcode 40091"):
        fetch_org(org_source(wecom, corpsecret="wrong"), OrgContext(now=NOW))


def test_a_server_error_is_retried_then_reported(wecom):
    wecom.fail("/cgi-bin/department/list", SimAnswer(503, {"error": "busy"}), times=1)
    assert len(fetch_org(org_source(wecom), OrgContext(now=NOW)).people) == 10
    wecom.fail("/cgi-bin/department/list", SimAnswer(503, {"error": "busy"}), times=None)
    with pytest.raises(SourceError, match="HTTP 503"):
        fetch_org(org_source(wecom, retries=1), OrgContext(now=NOW))


def test_leaver_mover_and_scope_after_the_changes(platform):
    demo_changes(platform.org)
    snap = fetch_org(org_source(platform), OrgContext(expected=EXPECTED, now=NOW))
    people = _by_no(snap)
    # mover: 黄俊 now in 三车间 under 李强
    huang = people["M1008"]
    assert snap.department_name(huang.department_id) == "三车间"
    assert snap.people[huang.manager_user_id].employee_no == "M1003"
    # newcomer
    assert people["M1009"].name == "吴刚"
    # leaver, confirmed by the platform
    assert set(snap.departed) == {userid_of("M1006")}
    if platform.platform == "dingtalk":
        assert snap.departed[userid_of("M1006")].left_on == dt.date(2026, 11, 20)
    # 刘洋's department left the app's scope: vanished, not confirmed as left
    assert set(snap.unconfirmed) == {userid_of("M1005")}
    assert "M1005" not in people and "M1006" not in people


def test_denied_department_is_a_scope_gap_not_a_failure(platform):
    platform.org.denied.add(11)  # 二车间: listed, members refused
    snap = fetch_org(org_source(platform),
                     OrgContext(expected={userid_of("M1002")}, now=NOW))
    assert any("二车间" in gap for gap in snap.scope_gaps)
    assert "M1002" not in _by_no(snap) and userid_of("M1002") in snap.unconfirmed
    assert not snap.departed


def test_dingtalk_leave_records_are_paged(dingtalk):
    for n in range(60):
        dingtalk.org.people.append(SimPerson(f"gone{n}", f"离职{n}", f"L{n}", [10],
                                             left_at=dt.datetime(2026, 11, 1, tzinfo=dt.UTC)))
    snap = fetch_org(org_source(dingtalk),
                     OrgContext(expected={"gone0", "gone59"}, now=NOW))
    assert set(snap.departed) == {"gone0", "gone59"}
    assert dingtalk.count("empLeaveRecords") == 30  # page_size 2: 60 records


def test_a_cursor_that_does_not_advance_is_an_error_not_a_loop(dingtalk, feishu):
    dingtalk.fail("/oapi/topapi/v2/user/list", SimAnswer(200, {
        "errcode": 0, "errmsg": "ok", "result": {"has_more": True, "next_cursor": 0,
                                                  "list": []}}), times=None)
    with pytest.raises(SourceError, match="has_more without a later next_cursor"):
        fetch_org(org_source(dingtalk), OrgContext(now=NOW))
    feishu.fail("/open-apis/contact/v3/users/find_by_department", SimAnswer(200, {
        "code": 0, "msg": "success", "data": {"has_more": True, "page_token": "same",
                                              "items": []}}), times=None)
    with pytest.raises(SourceError, match="has_more without a new page_token"):
        fetch_org(org_source(feishu), OrgContext(now=NOW))
