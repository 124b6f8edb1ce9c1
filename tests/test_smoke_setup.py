from s3sessions import Session


async def test_roundtrip(s3_manager):
    session = Session()
    session.messages.append({"role": "user", "content": "hi"})
    await s3_manager.save(session)
    assert (await s3_manager.resume(session.id)).messages == session.messages
