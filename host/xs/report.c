/*
 * How the Linux XS host reports a JavaScript error it caught (an uncaught exception, a rejected
 * promise nobody handled, a failed UART callback): its stack when it has one, else its string, on
 * stderr. A file of its own so the host's parts depend on it and on nothing above them:
 * main.c → platform.c, uart.c → report.c (no part calls back into main.c).
 */
#include "host.h"

#include <stdio.h>

void hostReportError(xsMachine* the, xsSlot* error, const char* what)
{
	xsBeginHost(the);
	{
		xsVars(2);
		xsVar(0) = *error;
		xsTry {
			xsVar(1) = xsUndefined;
			if (xsTypeOf(xsVar(0)) == xsReferenceType)
				xsVar(1) = xsGet(xsVar(0), xsID("stack"));
			if (xsTypeOf(xsVar(1)) == xsStringType)
				fprintf(stderr, "%s: %s\n", what, xsToString(xsVar(1)));
			else
				fprintf(stderr, "%s: %s\n", what, xsToString(xsVar(0)));
		}
		xsCatch {
			fprintf(stderr, "%s (not printable)\n", what);
		}
	}
	xsEndHost(the);
	fflush(stderr);
}
