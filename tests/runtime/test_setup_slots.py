"""runtime.container_create.SetupSlots: how many creates of one process set up at once, the
others in arrival order (`up`'s creates reach their monitors in turn: bench/FINDINGS.md F19)."""

from __future__ import annotations

import threading
import time

from runtime.container_create import SetupSlots


def _wait(cond: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.001)


def test_places_are_handed_over_in_arrival_order() -> None:
    slots = SetupSlots(1)  # one: the order they enter is the order they are let in
    slots.acquire()  # held here: every create below waits
    order: list[int] = []
    threads = []
    for i in range(5):
        t = threading.Thread(target=lambda i=i: (slots.acquire(), order.append(i), slots.release()))
        t.start()
        threads.append(t)
        _wait(lambda i=i: len(slots.waiting) == i + 1)  # queued before the next one arrives
    slots.release()
    for t in threads:
        t.join(5)
    assert order == [0, 1, 2, 3, 4]
    assert slots.free == 1 and slots.waiting == []


def test_no_more_than_its_places_at_once_and_a_released_slot_is_released_once() -> None:
    slots = SetupSlots(3)
    inside, most = 0, 0
    lock = threading.Lock()

    def work() -> None:
        nonlocal inside, most
        with slots.held() as slot:
            with lock:
                inside += 1
                most = max(most, inside)
            time.sleep(0.01)
            with lock:
                inside -= 1
            slot.release()  # early, as a create does before its monitor: the exit adds none
    threads = [threading.Thread(target=work) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert most == 3
    assert slots.free == 3
