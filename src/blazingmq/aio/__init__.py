"""The asyncio API of :mod:`blazingmq`: the same operations as the
synchronous :class:`blazingmq.Session`, awaited instead of blocking::

    async with blazingmq.aio.Session(broker=uri) as session:
        await session.open_queue(queue, read=True, write=True)
        ack = await session.post(queue, b"hello")
        async for message in session.messages():
            await message.confirm()
            break

Nothing here blocks the event loop on libbmq: queue operations use libbmq's
asynchronous requests, posts never wait inside libbmq, and what libbmq
delivers (messages, ACKs, session events) reaches the loop in batches, with
one wake-up of the loop per batch.
"""

from ._session import Message, Session

__all__ = ["Message", "Session"]
