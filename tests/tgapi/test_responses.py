"""aiogram's answer models are built once, not again after every garbage collection."""

from __future__ import annotations

import gc
import weakref

from aiogram.methods import CreateForumTopic, GetUpdates, Response, SendMessage

from tgapi.responses import keep_response_types


def test_answer_models_outlive_a_garbage_collection() -> None:
    keep_response_types()
    built = [
        weakref.ref(Response[method.__returning__])
        for method in (SendMessage, GetUpdates, CreateForumTopic)
    ]
    gc.collect()
    assert all(model() is not None for model in built)
