from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt


def index(request):
    print("index page requested")
    return render(request, "hello_azure/index.html")


@csrf_exempt
def hello(request):
    if request.method != "POST":
        return redirect("index")
    name = request.POST.get("name")
    if not name:
        print("hello page requested without a name: back to the index")
        return redirect("index")
    print(f"hello page requested for {name}")
    return render(request, "hello_azure/hello.html", {"name": name})
