"""The speech benchmark's out-of-grammar turns (imported by ``_speech_set``).

Everything a caller can put on the line that is none of the listening state's phrases, and
that the recogniser must therefore answer with a no-match (a reprompt). 310 turns per
language, generated from seeds on every run (nothing on disk), in these kinds:

* ``sentence``: other sentences, many sharing words with the grammar's phrases ("no idea",
  "yes I would rather talk to someone", "다른 사람이에요"), spoken twice each with the
  set's voices, rates and pitches;
* ``number``: numbers said out of context (a phone number, a price, a time);
* ``cough``, ``click`` (handset knocks and clicks), ``breath`` (slow, breathy noise);
* ``noise``: line noise alone (white, pink, brown, mains hum, distant babble), at levels from
  faint to loud;
* ``silence``: digital silence and comfort noise at -70 to -55 dBFS, 0.5 to 3 s;
* ``crosstalk``: two people talking over each other, both saying other sentences;
* ``background``: a caller's other sentence over a second, quieter voice (8 to 14 dB
  lower: a television, someone in the room) that says one of the *state's own phrases*.
  The caller is the louder voice and did not answer, so accepting anything, the background
  phrase included, is a false accept: a voice in the room must not confirm an appointment.

Each kind alternates between the language's two listening states and, every third turn of
the kind, goes to the calibration split; the rest (206 turns) are the test split.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tests.sim.channel import babble, speech_rms, white_noise

RATE = 16000
Pcm = npt.NDArray[np.int16]

SENTENCES = {
    "en": (
        # sharing words with the phrases, meaning none of them
        "no idea",
        "yes i would rather talk to someone",
        "i have no idea what this is about",
        "the date on my letter is different",
        "right now i am at work",
        "i moved to a new address",
        "can you send a text message",
        "who am i speaking with",
        "the person at the front desk was nice",
        "what day is it today",
        "i can hear you now",
        "one moment please",
        "my phone number is new",
        "call me on my other number",
        "i need to change my address",
        "you have the wrong number",
        "is the clinic open on sunday",
        "my agent handles my mail",
        "the human body is strange",
        "please call my daughter",
        # nothing in common
        "the weather is nice today",
        "i am driving right now",
        "who is this",
        "what time is it",
        "i had lunch already",
        "my dog is barking",
        "hold on a second",
        "i'm in a meeting",
        "can you hear me",
        "the bus is late",
        "i like coffee",
        "see you on monday",
        "the package has not arrived",
        "my daughter is sick",
        "turn the music down",
        "where are my keys",
        "who gave you my number",
        "my appointment is with doctor brown",
        "i already called the clinic yesterday",
        "sorry i was in the shower",
        "what clinic is this",
        "can i call you back later",
        "i need to check my calendar",
        "how much will it cost",
        "please send me an email instead",
        "is there parking at the clinic",
        "my son will bring me",
        "do i need to bring anything",
        "the last visit took two hours",
        "the kids are home from school",
        "what is your name",
        "this line is very bad",
        "let me get a pen",
        "my husband handles the appointments",
        "i don't understand",
        "good morning",
        "thank you for calling",
        "my phone battery is low",
        "i was just about to leave",
        "hello hello",
    ),
    "ko": (
        # sharing words with the phrases, meaning none of them
        "다른 사람이에요",
        "문자로 보내 주세요",
        "내일 몇 시에 와요",
        "전화번호가 바뀌었어요",
        "다시 연락드릴게요",
        "좋은 아침입니다",
        "문을 열어 주세요",
        "날씨가 좋아요",
        "택배 기사님이세요",
        "관리비가 얼마예요",
        "전화가 잘 안 들려요",
        "무슨 전화예요",
        "바쁘니까 나중에요",
        "변경된 주소가 있어요",
        "아니 그런데 누구세요",
        "네 잠깐만 기다려 보세요",
        "보관 기간이 얼마나 돼요",
        "다음 주에 이사 가요",
        "경찰서에 가야 해요",
        "그건 잘 모르겠어요",
        # nothing in common
        "오늘 날씨가 정말 좋네요",
        "감사합니다 안녕히 계세요",
        "저는 학생입니다",
        "지금 운전 중이에요",
        "잘 모르겠어요",
        "누구세요",
        "여보세요",
        "점심 먹었어요",
        "회의 중입니다",
        "버스를 타고 가요",
        "커피 한 잔 주세요",
        "주말에 뭐 해요",
        "물건이 아직 안 왔어요",
        "아이가 울고 있어요",
        "이따가 다시 걸게요",
        "집에 아무도 없어요",
        "제 번호는 어떻게 아셨어요",
        "지금 샤워 중이었어요",
        "어디서 전화하셨어요",
        "나중에 제가 전화할게요",
        "달력을 확인해 봐야 해요",
        "얼마예요",
        "이메일로 보내 주실래요",
        "주차장이 있나요",
        "아들이 데려다줄 거예요",
        "뭘 가져가야 하나요",
        "지난번에 두 시간 걸렸어요",
        "애들이 학교에서 왔어요",
        "성함이 어떻게 되세요",
        "잠깐 펜 좀 가져올게요",
        "남편이 알아서 해요",
        "무슨 말인지 모르겠어요",
        "안녕하세요",
        "배터리가 얼마 없어요",
        "막 나가려던 참이에요",
        "밥 먹었어요",
        "강아지가 짖고 있어요",
        "음악 소리 좀 줄여 주세요",
        "열쇠가 어디 있지",
        "월요일에 봐요",
    ),
}

NUMBERS = {
    "en": (
        "twenty five",
        "four one five two",
        "seven thirty",
        "nine",
        "five five five one two one two",
        "three hundred dollars",
        "eleven o'clock",
        "two thousand twenty six",
        "sixty",
        "room fourteen",
        "half past eight",
        "zero",
        "eight",
        "thirteen",
        "forty seven eighty",
    ),
    "ko": (
        "삼십오",
        "일 이 삼 사",
        "일곱 시 반",
        "구",
        "공일공 일이삼사 오육칠팔",
        "삼만 원",
        "열한 시",
        "이천이십육 년",
        "육십",
        "십사 호",
        "여덟 시 반",
        "영",
        "팔",
        "열셋",
        "사십칠 동 팔백 호",
    ),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Other:
    """One out-of-grammar turn before padding: its kind, its audio, and for ``background``
    turns the state whose phrase the quieter voice says."""

    kind: str
    pcm: Pcm
    state: str | None = None


def _shaped(rng: np.random.Generator, n: int, centre: float, width: float) -> npt.NDArray[np.float64]:
    """``n`` samples of noise with a Gaussian spectral bump at ``centre`` Hz."""
    spectrum = np.fft.rfft(rng.normal(0, 1, n))
    freqs = np.fft.rfftfreq(n, 1 / RATE)
    spectrum *= np.exp(-(((freqs - centre) / width) ** 2)) + 0.05
    out: npt.NDArray[np.float64] = np.fft.irfft(spectrum, n)
    return out


def _to_pcm(x: npt.NDArray[np.float64], peak: float) -> Pcm:
    top = float(np.abs(x).max()) or 1.0
    return np.clip(x / top * peak, -32768, 32767).astype(np.int16)


def cough(rng: np.random.Generator) -> Pcm:
    """One or two bursts of shaped noise with a sharp attack: a cough or a throat clear."""
    parts: list[npt.NDArray[np.float64]] = []
    for _ in range(int(rng.integers(1, 3))):
        n = int(RATE * rng.uniform(0.18, 0.35))
        spectrum = np.fft.rfft(rng.normal(0, 1, n))
        freqs = np.fft.rfftfreq(n, 1 / RATE)
        spectrum *= np.exp(-(((freqs - rng.uniform(500, 1500)) / 1500.0) ** 2)) + 0.2 * (freqs < 4000)
        burst = np.fft.irfft(spectrum, n)
        t = np.arange(n) / n
        burst *= np.minimum(1.0, t / 0.04) * np.exp(-4.0 * t)
        parts += [burst / np.abs(burst).max() * rng.uniform(8000, 16000), np.zeros(int(RATE * 0.12))]
    return np.concatenate(parts).astype(np.int16)


def clicks(rng: np.random.Generator) -> Pcm:
    """Two to six handset knocks and clicks: a few ms of decaying broadband energy each,
    some ringing at a low resonance, irregularly spaced over up to a second."""
    out = np.zeros(int(RATE * rng.uniform(0.4, 1.0)))
    for _ in range(int(rng.integers(2, 7))):
        n = int(RATE * rng.uniform(0.004, 0.03))
        t = np.arange(n) / RATE
        tone = np.sin(2 * np.pi * rng.uniform(150, 900) * t) * rng.uniform(0.0, 1.0)
        click = (rng.normal(0, 1, n) + tone) * np.exp(-t / rng.uniform(0.002, 0.01))
        at = int(rng.integers(0, len(out) - n))
        out[at : at + n] += click * rng.uniform(0.3, 1.0)
    return _to_pcm(out, rng.uniform(6000, 20000))


def breath(rng: np.random.Generator) -> Pcm:
    """One or two breaths: broadband noise tilted to 1-3 kHz, rising and falling slowly."""
    parts: list[npt.NDArray[np.float64]] = []
    for _ in range(int(rng.integers(1, 3))):
        n = int(RATE * rng.uniform(0.35, 0.8))
        burst = _shaped(rng, n, rng.uniform(1000, 3000), 1500.0)
        burst *= np.sin(np.pi * np.arange(n) / n) ** 2
        parts += [burst / np.abs(burst).max() * rng.uniform(1500, 6000), np.zeros(int(RATE * rng.uniform(0.1, 0.4)))]
    return np.concatenate(parts).astype(np.int16)


def line_noise(rng: np.random.Generator, i: int, talkers: Sequence[Pcm]) -> Pcm:
    """Noise alone, one of five colours by ``i``, 0.6-2 s, at a level from faint to loud."""
    n = int(RATE * rng.uniform(0.6, 2.0))
    colour = i % 5
    if colour == 0:
        x = white_noise(n, 100 + i)
    elif colour in (1, 2):  # pink (1/f) or brown (1/f^2)
        spectrum = np.fft.rfft(rng.normal(0, 1, n))
        freqs = np.maximum(np.fft.rfftfreq(n, 1 / RATE), 20.0)
        x = np.fft.irfft(spectrum / freqs ** (0.5 * colour), n)
    elif colour == 3:  # mains hum and its harmonics, with a little hiss
        t = np.arange(n) / RATE
        mains = 50.0 if rng.random() < 0.5 else 60.0
        x = sum(np.sin(2 * np.pi * mains * k * t) / k for k in range(1, 8)) + 0.05 * rng.normal(0, 1, n)
    else:  # distant babble: a crowd, no voice to follow
        x = babble(n, talkers, 100 + i)
    return _to_pcm(x, rng.uniform(500, 12000))


def quiet_line(rng: np.random.Generator, i: int) -> Pcm:
    """Silence: digital zeros (even ``i``) or comfort noise at -70 to -55 dBFS, 0.5-3 s."""
    n = int(RATE * rng.uniform(0.5, 3.0))
    if i % 2 == 0:
        return np.zeros(n, dtype=np.int16)
    rms = 32768 * 10 ** (rng.uniform(-70, -55) / 20)
    return np.clip(rng.normal(0, rms, n), -32768, 32767).astype(np.int16)


def over(front: Pcm, back: Pcm, rng: np.random.Generator, below_db: float) -> Pcm:
    """``back`` mixed under ``front`` at ``below_db`` dB lower speech level, starting at a
    random point of the first two thirds of ``front``."""
    start = int(rng.integers(0, max(1, 2 * len(front) // 3)))
    n = max(len(front), start + len(back))
    mix = np.zeros(n)
    mix[: len(front)] += front
    gain = speech_rms(front) / (speech_rms(back) or 1.0) * 10 ** (-below_db / 20)
    mix[start : start + len(back)] += gain * back
    return np.clip(mix, -32768, 32767).astype(np.int16)


Speak = Callable[[str, int], Pcm]  # (text, variant) -> audio in the set's voice/rate/pitch number variant


def out_of_grammar(
    lang: str, speak: Speak, states: Sequence[str], phrases: dict[str, Sequence[str]], *, seed: int = 11
) -> list[Other]:
    """The language's 310 out-of-grammar turns (see the module doc), deterministic in ``seed``.
    ``phrases``: per state, its phrases (what a background voice says in ``background`` turns)."""
    rng = np.random.default_rng(seed)
    sentences = [speak(text, 2 * i + r) for i, text in enumerate(SENTENCES[lang]) for r in range(2)]
    numbers = [speak(text, 2 * i + r + 7) for i, text in enumerate(NUMBERS[lang]) for r in range(2)]
    talkers = sentences[:6]
    out = [Other(kind="sentence", pcm=p) for p in sentences] + [Other(kind="number", pcm=p) for p in numbers]
    out += [Other(kind="cough", pcm=cough(rng)) for _ in range(20)]
    out += [Other(kind="click", pcm=clicks(rng)) for _ in range(15)]
    out += [Other(kind="breath", pcm=breath(rng)) for _ in range(15)]
    out += [Other(kind="noise", pcm=line_noise(rng, i, talkers)) for i in range(30)]
    out += [Other(kind="silence", pcm=quiet_line(rng, i)) for i in range(20)]
    for i in range(30):  # two other sentences at once, the second 0-6 dB lower
        a, b = sentences[(7 * i) % len(sentences)], sentences[(7 * i + 61) % len(sentences)]
        out.append(Other(kind="crosstalk", pcm=over(a, b, rng, rng.uniform(0, 6))))
    for i in range(30):  # the state's own phrase, quieter, under the caller's other sentence
        state = states[i % len(states)]
        said = phrases[state][(5 * i) % len(phrases[state])]
        back = speak(said, i + 3)
        front = sentences[(11 * i + 5) % len(sentences)]
        out.append(Other(kind="background", pcm=over(front, back, rng, rng.uniform(8, 14)), state=state))
    return out


KINDS = ("sentence", "number", "cough", "click", "breath", "noise", "silence", "crosstalk", "background")

__all__ = ["KINDS", "NUMBERS", "SENTENCES", "Other", "out_of_grammar", "over"]
