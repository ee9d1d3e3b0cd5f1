/* The nginx->FastCGI ceiling: answers every request with a fixed JSON body. */
#include <fcgiapp.h>

int
main(void)
{
	FCGX_Request r;

	if (FCGX_Init() != 0 || FCGX_InitRequest(&r, 0, 0) != 0)
		return 1;
	while (FCGX_Accept_r(&r) >= 0) {
		FCGX_PutS("Status: 200 OK\r\nContent-Type: application/json\r\n"
		    "\r\n{\"hello\":\"world\"}\n", r.out);
		FCGX_Finish_r(&r);
	}
	return 0;
}
