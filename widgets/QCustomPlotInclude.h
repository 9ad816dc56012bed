// qcustomplot.h uses Qt's `signals`/`slots`/`emit`/`foreach` keywords, which QT_NO_KEYWORDS (needed
// wherever LibTorch headers might appear) turns off. Include QCustomPlot only through here.
#pragma once
#ifdef QT_NO_KEYWORDS
#define signals Q_SIGNALS
#define slots Q_SLOTS
#define emit Q_EMIT
#define foreach Q_FOREACH
#include <qcustomplot.h>
#undef foreach
#undef signals
#undef slots
#undef emit
#else
#include <qcustomplot.h>
#endif
