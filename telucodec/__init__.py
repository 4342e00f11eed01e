"""telucodec: a neural speech codec for Telugu."""
