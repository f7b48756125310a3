"""The asyncio API of :mod:`blazingmq`: the same operations as the
synchronous :class:`blazingmq.Session`, awaited instead of blocking::

    async with blazingmq.aio.Session(broker=uri) as session:
        await session.open_queue(queue, read=True, write=True)
        ack = await session.post(queue, b"hello")
        async for message in session.messages():
            await message.confirm()
            break

Nothing here blocks the event loop on libbmq: connecting and the queue
operations use libbmq's asynchronous requests, posts never wait inside
libbmq (a post that finds the channel full waits in the session, in order),
and what libbmq delivers (messages, ACKs, session events) reaches the loop
in batches, with at most one wake-up of the loop per batch.  Works on
asyncio's default loop and on uvloop.
"""

from ._session import Message, Session

__all__ = ["Message", "Session"]
