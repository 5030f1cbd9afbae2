"""VMs prepared ahead (conformance.run.prepare) and the plan that tells each worker its tests
(conformance.run.schedule): the logic, with fake boots; the real boots are in the cloud tier."""

import threading
import time

import pytest

from conformance.core import waiting
from conformance.core.cleanup import CleanupError, CleanupStack
from conformance.run import prepare, schedule
from conformance.run.lab import IpPool, IpsUsedUp
from conformance.run.schedule import Need

MOD_A = "suites/test_a.py"
MOD_B = "suites/test_b.py"
MOD_C = "suites/test_c.py"


def test_plan_keeps_a_module_on_one_worker_and_balances_the_estimates():
    collection = [f"{MOD_A}::t1", f"{MOD_A}::t2", f"{MOD_B}::t1", f"{MOD_C}::t1", f"{MOD_C}::t2"]
    needs = {f"{MOD_B}::t1": {"boots": [{}, {}], "uses": []},
             f"{MOD_C}::t1": {"boots": [{}], "uses": ["shared_vm"]},
             f"{MOD_C}::t2": {"boots": [], "uses": ["shared_vm"]}}
    planned = schedule.plan(collection, needs, 2)
    assert sorted(n for w in planned for n in w) == sorted(collection)
    modules = [{schedule.scope_of(n) for n in w} for w in planned]
    assert modules[0].isdisjoint(modules[1])  # a module's tests are on one worker
    # B (2 boots: 74 s) and C (1 boot + shared_vm once: 78 s) are the costly ones: one each
    assert {MOD_B, MOD_C} - modules[0] and {MOD_B, MOD_C} - modules[1]


def test_a_worker_runs_what_needs_no_vm_first_and_of_that_what_uses_the_stemcell_first():
    collection = [f"{MOD_A}::t1", f"{MOD_A}::t2", f"{MOD_A}::t3", f"{MOD_A}::t4"]
    needs = {f"{MOD_A}::t1": {"boots": [{}], "uses": []}, f"{MOD_A}::t3": {"boots": [], "uses": ["peer_vm"]},
             f"{MOD_A}::t4": {"boots": [], "uses": [], "stemcell": True}}
    assert schedule.plan(collection, needs, 1) == [[f"{MOD_A}::t4", f"{MOD_A}::t2", f"{MOD_A}::t1", f"{MOD_A}::t3"]]


def test_modules_that_use_a_session_vm_gather_where_it_is_when_that_keeps_the_workers_even():
    mods = [f"suites/test_{c}.py" for c in "pqr"]
    collection = [f"{m}::t" for m in mods]
    needs = {f"{mods[0]}::t": {"boots": [], "uses": ["peer_vm"]},
             f"{mods[1]}::t": {"boots": [], "uses": ["peer_vm"]},
             f"{mods[2]}::t": {"boots": [{}, {}], "uses": []}}
    planned = schedule.plan(collection, needs, 2)
    with_peer = [w for w in planned if any(n.startswith(mods[0]) for n in w)][0]
    assert any(n.startswith(mods[1]) for n in with_peer)  # one peer_vm boot, not two
    # but not at any price: two equal modules that each boot their own go to both workers
    even = schedule.plan([f"{mods[0]}::t", f"{mods[1]}::t"], {f"{m}::t": {"boots": [], "uses": ["peer_vm"]}
                                                            for m in mods[:2]}, 2)
    assert all(even)


def test_plan_is_the_same_for_the_same_collection_and_has_a_list_per_worker():
    collection = [f"{MOD_A}::t{i}" for i in range(3)] + [f"{MOD_B}::t1"]
    assert schedule.plan(collection, {}, 3) == schedule.plan(list(collection), {}, 3)
    planned = schedule.plan(collection, {}, 3)
    assert len(planned) == 3 and [] in planned  # two modules, three workers: one has nothing


def test_worker_needs_are_in_the_order_of_first_use_and_a_session_vm_is_needed_once():
    order = [f"{MOD_A}::t1", f"{MOD_A}::t2", f"{MOD_B}::t1"]
    needs = {f"{MOD_A}::t1": {"boots": [], "uses": ["shared_vm"]},
             f"{MOD_A}::t2": {"boots": [{"vip": False}], "uses": ["shared_vm", "peer_vm"]},
             f"{MOD_B}::t1": {"boots": [{}, {"manual": 0, "dynamic": True}], "uses": []}}
    got = schedule.worker_needs(order, needs)
    # a test's session VMs are set up before its body boots its own
    assert [n.key for n in got] == ["shared_vm", "peer_vm", f"{MOD_A}::t2#0", f"{MOD_B}::t1#0", f"{MOD_B}::t1#1"]
    assert got[0].nodeid == f"{MOD_A}::t1"  # the first test that uses it
    assert got[4].spec == {"manual": 0, "dynamic": True}


class _Marker:
    def __init__(self, name, **kwargs):
        self.name, self.kwargs = name, kwargs


class _Item:
    def __init__(self, markers, fixturenames=()):
        self.markers, self.fixturenames = markers, fixturenames

    def iter_markers(self, name=None):  # closest first, as pytest gives them
        return iter([m for m in reversed(self.markers) if name is None or m.name == name])


def test_item_needs_read_the_boots_markers_in_the_order_written_and_a_skipped_test_needs_nothing():
    item = _Item([_Marker("boots", vip=False), _Marker("boots", manual=2)], fixturenames=("stemcell", "peer_vm"))
    assert schedule.item_needs(item) == {"boots": [{"vip": False}, {"manual": 2}], "uses": ["peer_vm"],
                                         "stemcell": True}
    skipped = _Item([_Marker("boots"), _Marker("skip")], fixturenames=("shared_vm",))
    assert schedule.item_needs(skipped) == {"boots": [], "uses": [], "stemcell": False}


def test_share_splits_the_run_bound_over_the_workers():
    assert [prepare.share(3, 2, i) for i in range(2)] == [2, 1]
    assert [prepare.share(1, 2, i) for i in range(2)] == [1, 0]
    assert prepare.share(0, 1, 0) == 0


class _Boots:
    """A fake boot: each VM registers its undo on its stack; waits until released by the test."""

    def __init__(self, fail=()):
        self.running = 0
        self.most = 0
        self.deleted: list[str] = []
        self.release = threading.Event()
        self.fail = set(fail)
        self.lock = threading.Lock()

    def __call__(self, need, stack, set_phase):
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
        set_phase("create")
        stack.add(f"delete {need.key}", self.deleted.append, need.key)
        self.release.wait(5)
        with self.lock:
            self.running -= 1
        if need.key in self.fail:
            raise RuntimeError(f"create_vm of {need.key} failed")
        set_phase("ssh")
        return f"vm-{need.key}"


def _needs(n):
    return [Need(f"t{i}#0", f"t{i}") for i in range(n)]


def _wait(p):
    p.future.result(timeout=5)


def test_at_most_limit_vms_are_created_and_not_yet_claimed_and_a_claim_moves_the_undo():
    boots = _Boots()
    preparer = prepare.Preparer(_needs(4), limit=2, boot=boots, new_stack=CleanupStack)
    preparer.start()
    time.sleep(0.2)
    assert boots.running == 2  # two prepared at once; the others wait for a claim
    boots.release.set()
    stack = CleanupStack()
    assert preparer.claim("t0#0", stack, wait=_wait) == "vm-t0#0"
    assert len(stack) == 1  # its delete is now the test's
    for key in ("t1#0", "t2#0", "t3#0"):
        assert preparer.claim(key, CleanupStack(), wait=_wait) == f"vm-{key}"
    assert boots.most == 2
    preparer.close()
    assert boots.deleted == []  # every one was claimed: the tests' stacks delete them
    stack.run()
    assert boots.deleted == ["t0#0"]


def test_a_failure_while_preparing_is_raised_in_the_claiming_test_and_what_it_made_is_still_undone():
    boots = _Boots(fail={"t0#0"})
    boots.release.set()
    preparer = prepare.Preparer(_needs(1), limit=1, boot=boots, new_stack=CleanupStack)
    preparer.start()
    stack = CleanupStack()
    with pytest.raises(RuntimeError, match="create_vm of t0#0 failed"):
        preparer.claim("t0#0", stack, wait=lambda p: None if p.future.exception(timeout=5) else None)
    stack.run()
    assert boots.deleted == ["t0#0"]


def test_close_deletes_what_no_test_claimed_and_never_starts_the_rest():
    boots = _Boots()
    boots.release.set()
    preparer = prepare.Preparer(_needs(3), limit=1, boot=boots, new_stack=CleanupStack)
    preparer.start()
    time.sleep(0.2)
    preparer.close()  # t0 prepared and not claimed; t1, t2 never started (t0 was never claimed)
    assert boots.deleted == ["t0#0"]
    assert preparer.claim("t1#0", CleanupStack(), wait=_wait) is None  # boot it in the test instead


def test_close_raises_the_failed_deletes_together_after_trying_every_one():
    def boot(need, stack, set_phase):
        stack.add(f"delete {need.key}", _raise)
        return need.key

    preparer = prepare.Preparer(_needs(2), limit=2, boot=boot, new_stack=CleanupStack)
    preparer.start()
    time.sleep(0.2)
    with pytest.raises(ExceptionGroup) as info:
        preparer.close()
    assert len(info.value.exceptions) == 2 and all(isinstance(e, CleanupError) for e in info.value.exceptions)


def _raise():
    raise RuntimeError("the cloud said no")


def test_a_need_not_planned_or_claimed_twice_is_booted_by_the_test():
    boots = _Boots()
    boots.release.set()
    preparer = prepare.Preparer(_needs(1), limit=1, boot=boots, new_stack=CleanupStack)
    preparer.start()
    assert preparer.claim("other#0", CleanupStack(), wait=_wait) is None
    assert preparer.claim("t0#0", CleanupStack(), wait=_wait) == "vm-t0#0"
    assert preparer.claim("t0#0", CleanupStack(), wait=_wait) is None
    preparer.close()


def test_limit_zero_prepares_nothing():
    boots = _Boots()
    preparer = prepare.Preparer(_needs(2), limit=0, boot=boots, new_stack=CleanupStack)
    preparer.start()
    assert preparer.claim("t0#0", CleanupStack(), wait=_wait) is None
    preparer.close()
    assert boots.most == 0


def test_ip_pool_keeps_addresses_for_the_tests_when_asked():
    pool = IpPool({"a": ["10.0.0.1", "10.0.0.2", "10.0.0.3"]})
    assert pool.take("a", keep=2) == "10.0.0.1"
    with pytest.raises(IpsUsedUp, match="kept for the tests"):
        pool.take("a", keep=2)
    assert pool.take("a") == "10.0.0.2"


def test_adopt_moves_the_steps_and_runs_them_last_first_with_the_own():
    done = []
    own, other = CleanupStack(), CleanupStack()
    own.add("own", done.append, "own")
    other.add("first", done.append, "first")
    other.add("second", done.append, "second")
    own.adopt(other)
    assert len(other) == 0
    own.run()
    assert done == ["second", "first", "own"]


def test_waits_in_another_thread_are_not_counted_for_the_test():
    counted = []
    previous = waiting.account_waits_to(lambda kind, s: counted.append(kind))
    try:
        t = threading.Thread(target=lambda: waiting.wait_for(lambda: True, timeout=1, interval=0.1, what="x",
                                                             kind="guest"))
        t.start()
        t.join()
        waiting.wait_for(lambda: True, timeout=1, interval=0.1, what="y", kind="cloud")
        waiting.account("guest", 0.5)
    finally:
        waiting.account_waits_to(previous)
    assert counted == ["cloud", "guest"]


def test_close_waits_for_a_vm_being_prepared_then_deletes_it():
    boots = _Boots()
    preparer = prepare.Preparer(_needs(1), limit=1, boot=boots, new_stack=CleanupStack)
    preparer.start()
    time.sleep(0.1)
    threading.Timer(0.3, boots.release.set).start()
    preparer.close()  # returns once the boot ended, and deletes what it made
    assert boots.deleted == ["t0#0"]


def test_close_cut_short_leaves_a_vm_being_prepared_to_the_ledger():
    boots = _Boots()
    stop = threading.Event()
    preparer = prepare.Preparer(_needs(1), limit=1, boot=boots, new_stack=CleanupStack, stop=stop.is_set)
    preparer.start()
    time.sleep(0.1)
    stop.set()  # a second interrupt
    started = time.monotonic()
    preparer.close()
    assert time.monotonic() - started < 1.0 and boots.deleted == []
    boots.release.set()


def test_a_claim_cut_off_while_its_vm_is_being_made_leaves_the_vm_to_close():
    boots = _Boots()
    preparer = prepare.Preparer(_needs(1), limit=1, boot=boots, new_stack=CleanupStack)
    preparer.start()
    stack = CleanupStack()

    def interrupted(p):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        preparer.claim("t0#0", stack, wait=interrupted)
    assert len(stack) == 0  # not moved: its delete would be registered after the move
    boots.release.set()
    preparer.close()
    assert boots.deleted == ["t0#0"]
