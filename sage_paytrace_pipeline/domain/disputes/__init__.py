"""Card disputes (retrievals, chargebacks, arbitration) as the processor's report describes them.

PayTrace v1 has no dispute API: cases arrive as the processor's report file. This package reads
that file (`report`), orders each case's stages (`stages`), names the reason family and what to
send (`reasons`), links a case to its PayTrace sale (`linking`) and plans the GL entries of each
case and stage (`postings`). Pure: bytes and frames in, frames out.
"""
