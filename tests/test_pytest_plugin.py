"""The pytest plugin, as users get it: registered by the installed package's
``pytest11`` entry point, run with pytester in a separate pytest process."""

from __future__ import annotations

from importlib import metadata

import pytest

import blazingmq.testing.pytest_plugin as plugin_module
from test_readme import readme_example

PLUGIN = "blazingmq.testing.pytest_plugin"

USER_TESTS = '''
import blazingmq

seen = {}

def test_session_round_trip(bmq_session, bmq_queue_uri, bmq_received):
    seen["first"] = bmq_queue_uri
    bmq_session.open_queue(bmq_queue_uri, read=True, write=True)
    bmq_session.post(bmq_queue_uri, b"hello", properties={"n": 1})
    message = bmq_received.get(timeout=30)
    assert (message.data, message.properties, message.queue_uri) == (b"hello", {"n": 1}, bmq_queue_uri)
    bmq_session.confirm(message)
    assert len(bmq_received) == 1

def test_fresh_queue_and_shared_broker(bmq_queue_uri, bmq_queue_uri_factory, bmq_broker, bmq_broker_uri):
    assert bmq_queue_uri.startswith("bmq://bmq.test.mem.priority/")
    assert bmq_queue_uri != seen["first"]
    assert bmq_queue_uri_factory("bmq.test.mem.fanout").startswith("bmq://bmq.test.mem.fanout/")
    assert bmq_broker.running and bmq_broker_uri == bmq_broker.uri

def test_session_is_connected_to_the_broker(bmq_session, bmq_broker_uri):
    assert isinstance(bmq_session, blazingmq.Session)
    bmq_session.open_queue("bmq://bmq.test.mem.priority/connected", write=True)
'''


def test_entry_point_names_the_plugin_module():
    entry_points = [ep for ep in metadata.entry_points(group="pytest11") if ep.value == PLUGIN]
    assert [ep.name for ep in entry_points] == [PLUGIN]
    assert entry_points[0].load() is plugin_module


def test_plugin_is_registered_once_in_this_run(request):
    manager = request.config.pluginmanager
    assert manager.get_plugin(PLUGIN) is plugin_module
    assert [plugin for plugin in manager.get_plugins() if plugin is plugin_module] == [plugin_module]


def test_fixtures_work_with_no_conftest(pytester: pytest.Pytester):
    pytester.makepyfile(test_user=USER_TESTS)
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)


def test_old_style_conftest_does_not_register_twice(pytester: pytest.Pytester):
    pytester.makeconftest(f"pytest_plugins = [{PLUGIN!r}]\n")
    pytester.makepyfile(test_user=USER_TESTS)
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)
    assert "already registered" not in result.stdout.str() + result.stderr.str()


def test_explicit_load_without_autoload(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    pytester.makepyfile(test_user=USER_TESTS)
    without = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    without.assert_outcomes(errors=3)
    assert "fixture 'bmq_session' not found" in without.stdout.str()
    loaded = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider", "-p", PLUGIN)
    loaded.assert_outcomes(passed=3)


def test_a_failing_user_test_reports_a_clear_timeout(pytester: pytest.Pytester):
    pytester.makepyfile(
        test_user='''
def test_nothing_arrives(bmq_session, bmq_queue_uri, bmq_received):
    bmq_session.open_queue(bmq_queue_uri, read=True)
    bmq_received.get(timeout=0.5)
'''
    )
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*TimeoutError: waited 0.5 s for a message; received 0*"])


def test_readme_example(pytester: pytest.Pytester):
    pytester.makepyfile(test_orders=readme_example("pytest-plugin"))
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
