"""The SentencePiece ("llama") tokenizer of a GGUF text model, as llama.cpp runs it, for the vocabularies eagle's
GGUF writer produces (src/export/gguf-vlm-writer.h, "Vocabulary").

llama.cpp's algorithm, restated: control tokens written in the text are split out first (parse_special); each
remaining fragment gets a leading space when add_space_prefix is set and it follows the start or a special token;
spaces become U+2581; the fragment is cut into UTF-8 characters and the adjacent pair whose concatenation is a
token with the highest score is merged, repeatedly (ties: the leftmost pair); a final piece that is not a token
falls back to its bytes, <0xNN>.
"""
import heapq

_SPACE = "\u2581"
_TYPE_CONTROL = 3


class SpmTokenizer:
    def __init__(self, gguf):
        model = gguf.require("tokenizer.ggml.model")
        if model != "llama":
            raise ValueError(f"tokenizer '{model}' is not supported (only SentencePiece 'llama')")
        self.tokens = gguf.require("tokenizer.ggml.tokens")
        self.scores = gguf.get("tokenizer.ggml.scores") or [0.0] * len(self.tokens)
        types = gguf.get("tokenizer.ggml.token_type") or [1] * len(self.tokens)
        self.ids = {t: i for i, t in enumerate(self.tokens)}
        self.bos_id = gguf.get("tokenizer.ggml.bos_token_id", 1)
        self.add_bos = bool(gguf.get("tokenizer.ggml.add_bos_token", True))
        self.add_space_prefix = bool(gguf.get("tokenizer.ggml.add_space_prefix", True))
        eot = gguf.get("tokenizer.ggml.eot_token_id")
        self.eog_id = eot if eot is not None else gguf.get("tokenizer.ggml.eos_token_id", 2)
        # longest first, so that a control token containing another is matched whole
        self.specials = sorted((t for t, ty in zip(self.tokens, types) if ty == _TYPE_CONTROL), key=len, reverse=True)

    def encode(self, text, add_bos=False, parse_special=True):
        ids = [self.bos_id] if add_bos and self.add_bos else []
        prev_special = True
        for fragment, is_special in self._partition(text, parse_special):
            if is_special:
                ids.append(self.ids[fragment])
                prev_special = True
                continue
            if self.add_space_prefix and prev_special:
                fragment = " " + fragment
            prev_special = False
            ids.extend(self._encode_fragment(fragment.replace(" ", _SPACE)))
        return ids

    def _partition(self, text, parse_special):
        if not parse_special or not self.specials:
            return [(text, False)] if text else []
        out, start, i = [], 0, 0
        while i < len(text):
            hit = next((s for s in self.specials if text.startswith(s, i)), None)
            if hit is None:
                i += 1
                continue
            if i > start:
                out.append((text[start:i], False))
            out.append((hit, True))
            i += len(hit)
            start = i
        if start < len(text):
            out.append((text[start:], False))
        return out

    def _encode_fragment(self, text):
        sym = list(text)  # code points; a merged symbol is a token by construction
        prev = [i - 1 for i in range(len(sym))]
        nxt = [i + 1 if i + 1 < len(sym) else -1 for i in range(len(sym))]
        heap = []

        def try_pair(left, right):
            if left < 0 or right < 0:
                return
            piece = sym[left] + sym[right]
            tid = self.ids.get(piece)
            if tid is not None:
                # highest score first, then the leftmost pair; the piece detects a stale entry
                heapq.heappush(heap, (-self.scores[tid], left, right, piece))

        for i in range(len(sym) - 1):
            try_pair(i, i + 1)
        while heap:
            _, left, right, piece = heapq.heappop(heap)
            if not sym[left] or not sym[right] or nxt[left] != right or sym[left] + sym[right] != piece:
                continue
            sym[left] = piece
            sym[right] = ""
            nxt[left] = nxt[right]
            if nxt[right] >= 0:
                prev[nxt[right]] = left
            try_pair(prev[left], left)
            try_pair(left, nxt[left])
        ids = []
        for s in sym:
            if not s:
                continue
            tid = self.ids.get(s)
            if tid is not None:
                ids.append(tid)
                continue
            for b in s.encode("utf-8"):
                ids.append(self.ids[f"<0x{b:02X}>"])
        return ids
